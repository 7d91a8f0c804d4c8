"""The texts of the two QR codes of offline payments (docs/offline-payments.md, "The codes").

A *receive code* is what a payee's screen shows: its user id, and optionally the amount it asks.
A *payment code* is what the payer's screen shows back: the allowance certificate and the vouchers,
packed small enough for one QR code that a phone camera reads at arm's length (at most 1,200
bytes with one voucher; about 740 in practice).

    receive code   EWR1:<payee user id>[:<amount in minor units>:<currency>]
    payment code   EWP1:<base64url, unpadded, of the raw DEFLATE (RFC 1951) of the fields>

The fields: for the certificate, then each voucher in order, its three JWS parts decoded (header
JSON, payload JSON, signature), each as a 2-byte big-endian length and its bytes. Decoding
spells each part again in canonical base64url, so the compact JWS that comes out is exactly the
one that went in (a token is only ever accepted in that one spelling). A browser reads it with
`DecompressionStream("deflate-raw")` and a `DataView`.

One module, read by the server (`POST /offline/redeem` with `payment_code`) and by the client
library (`python -m offline_wallet`); stdlib only, so a phone app can embed it as it is.
"""
from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

from chalicelib.domain.offline import MAX_VOUCHERS_PER_CALL, b64url, canonical_b64url, canonical_jws

PAYMENT_PREFIX = "EWP1:"
RECEIVE_PREFIX = "EWR1:"
PAYMENT_CODE_PATTERN = r"^EWP1:[A-Za-z0-9_-]+$"
QR_BUDGET = 1200  # bytes: what the app's payment code must stay within (one voucher)
MAX_PAYMENT_CODE = 4096  # characters: no QR code holds more (2,953 bytes at most)
MAX_JWS = 4096  # characters of one compact JWS, as `POST /offline/redeem` takes them
MAX_INFLATED = 64 * 1024  # bytes: a code that inflates past this is refused (no zip bombs)
MAX_AMOUNT = 2**53 - 1  # what a JSON number holds exactly

_LENGTH = struct.Struct(">H")
_PAYEE = re.compile(r"[A-Za-z0-9_-]{1,100}")
_AMOUNT = re.compile(r"[1-9][0-9]{0,15}")
_CURRENCY = re.compile(r"[A-Z]{3}")


class BadCode(ValueError):
    """Not a code of this format (the message says why, in a few words)."""


@dataclass(frozen=True)
class Payment:
    """What a payment code carries: the certificate and its vouchers, as compact JWS."""

    certificate: str
    vouchers: tuple[str, ...]


@dataclass(frozen=True)
class ReceiveRequest:
    """What a receive code carries: who is paid, and what they ask (both or neither)."""

    payee: str
    amount: int | None = None
    currency: str | None = None


def encode_payment(certificate: str, vouchers: list[str] | tuple[str, ...]) -> str:
    """The payment code of a certificate and its vouchers (each a canonical compact JWS)."""
    tokens = [certificate, *vouchers]
    if not vouchers or len(vouchers) > MAX_VOUCHERS_PER_CALL:
        raise BadCode(f"a payment code carries 1 to {MAX_VOUCHERS_PER_CALL} vouchers")
    fields = bytearray()
    for token in tokens:
        if not canonical_jws(token) or len(token) > MAX_JWS:
            raise BadCode("not a canonical compact JWS")
        for part in token.split("."):
            raw = canonical_b64url(part) or b""
            fields += _LENGTH.pack(len(raw)) + raw
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)  # negative window bits: raw DEFLATE, no header
    return PAYMENT_PREFIX + b64url(packer.compress(bytes(fields)) + packer.flush())


def decode_payment(text: str) -> Payment:
    """The certificate and vouchers of a payment code; `BadCode` for anything else."""
    if not isinstance(text, str) or not text.startswith(PAYMENT_PREFIX):
        raise BadCode(f"a payment code starts with {PAYMENT_PREFIX}")
    if len(text) > MAX_PAYMENT_CODE:
        raise BadCode(f"a payment code is at most {MAX_PAYMENT_CODE} characters")
    packed = canonical_b64url(text[len(PAYMENT_PREFIX):])
    if not packed:
        raise BadCode("a payment code is base64url after its prefix")
    fields = _split(_inflate(packed))
    if len(fields) % 3 or not 2 <= len(fields) // 3 <= 1 + MAX_VOUCHERS_PER_CALL:
        raise BadCode(f"a payment code holds a certificate and 1 to {MAX_VOUCHERS_PER_CALL} vouchers")
    tokens = [".".join(b64url(f) for f in fields[i:i + 3]) for i in range(0, len(fields), 3)]
    if any(len(token) > MAX_JWS for token in tokens):
        raise BadCode(f"a token is at most {MAX_JWS} characters")
    return Payment(tokens[0], tuple(tokens[1:]))


def _inflate(packed: bytes) -> bytes:
    unpacker = zlib.decompressobj(-15)
    try:
        raw = unpacker.decompress(packed, MAX_INFLATED + 1)
    except zlib.error:
        raise BadCode("a payment code is raw DEFLATE data") from None
    if len(raw) > MAX_INFLATED or unpacker.unconsumed_tail:
        raise BadCode("a payment code inflates to too much")
    if not unpacker.eof or unpacker.unused_data:
        raise BadCode("a payment code's DEFLATE data is truncated or followed by more")
    return raw


def _split(raw: bytes) -> list[bytes]:
    fields, at = [], 0
    while at < len(raw):
        if at + _LENGTH.size > len(raw):
            raise BadCode("a payment code's fields are cut short")
        (size,) = _LENGTH.unpack_from(raw, at)
        at += _LENGTH.size
        if at + size > len(raw):
            raise BadCode("a payment code's fields are cut short")
        fields.append(raw[at:at + size])
        at += size
    return fields


def encode_receive(payee: str, amount: int | None = None, currency: str | None = None) -> str:
    """The receive code of a payee (its user id), asking an amount of a currency or not."""
    request = ReceiveRequest(payee, amount, currency)
    text = RECEIVE_PREFIX + payee + ("" if amount is None else f":{amount}:{currency}")
    if decode_receive(text) != request:  # one grammar: what is written reads back the same
        raise BadCode("a receive code names a user id, and an amount with its currency or neither")
    return text


def decode_receive(text: str) -> ReceiveRequest:
    """The payee (and the amount asked) of a receive code; `BadCode` for anything else."""
    if not isinstance(text, str) or not text.startswith(RECEIVE_PREFIX) or len(text) > 200:
        raise BadCode(f"a receive code starts with {RECEIVE_PREFIX}")
    parts = text[len(RECEIVE_PREFIX):].split(":")
    if not _PAYEE.fullmatch(parts[0]):
        raise BadCode("a receive code names a user id")
    if len(parts) == 1:
        return ReceiveRequest(parts[0])
    if len(parts) != 3 or not _AMOUNT.fullmatch(parts[1]) or int(parts[1]) > MAX_AMOUNT \
            or not _CURRENCY.fullmatch(parts[2]):
        raise BadCode("a receive code's amount is minor units and an ISO 4217 currency")
    return ReceiveRequest(parts[0], int(parts[1]), parts[2])
