"""Offline payments: devices, allowances, vouchers and their redemption (guarantee 12).

An allowance is money held in advance from a wallet and certified (a JWS signed with the
server's offline key) for one device's Ed25519 key. Offline, the device signs vouchers to
payees; each voucher is redeemed at most once per (allowance, seq), and the sum credited never
exceeds the allowance: the redemption's transaction is conditional on `spent + amount <= amount`
(docs/offline-payments.md, the threat model). This module holds the rules that need no I/O.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.domain.errors import DomainError

if TYPE_CHECKING:
    from chalicelib.domain.results import VoucherResultView

CERTIFICATE_TYP = "offline-allowance+jwt"
VOUCHER_TYP = "offline-voucher+jwt"
TRANSFER_TYPE = "offline"  # the hold and every redemption, on both statements
OUTSTANDING_MARGIN = 30 * 86400  # the outstanding counter outlives every open allowance by this much

MIN_EXPIRES_IN = 60
MAX_EXPIRES_IN = 7 * 86400
DEFAULT_EXPIRES_IN = 72 * 3600
MAX_VOUCHERS_PER_CALL = 50
MAX_SEQ = 2**53 - 1  # a seq is stored as a number: no signed value may exceed what DynamoDB keeps
DEVICES_PER_USER = 10

# Redemption results (API.md, POST /offline/redeem).
CREDITED, ALREADY_REDEEMED, REJECTED = "credited", "already_redeemed", "rejected"


class DeviceInactive(DomainError):
    """A revoked or frozen device gets no new allowance."""

    code = "device_inactive"
    default_message = "This device is not active: it cannot receive a new allowance."


@dataclass(frozen=True)
class OfflinePolicy:
    max_allowance_major: int = 500  # per allowance, in major units of its currency
    max_outstanding_major: int = 1000  # per user and currency: held in allowances not yet spent
    grace_seconds: int = 72 * 3600  # redeemable this long after an allowance expires


@dataclass(frozen=True)
class Device:
    device_id: str
    user_id: str
    public_key: str  # base64url of the raw 32-byte Ed25519 key
    status: str  # active | revoked | frozen
    created_at: str
    name_ct: str | None = None  # the name its owner gave it, encrypted


@dataclass(frozen=True)
class DeviceCheck:
    """The device may still receive an allowance (checked inside the hold's transaction)."""

    device_id: str
    user_id: str


@dataclass(frozen=True)
class Allowance:
    allowance_id: str
    user_id: str
    device_id: str
    wallet_id: str
    amount: int
    currency: str
    spent: int
    status: str  # open | closed (stored); reads as active | expired | closed
    expires_at: int  # epoch seconds: the certificate's `exp`
    release_at: int  # expires_at + grace: then the remainder goes back to the wallet
    created_at: str
    created_ms: int
    certificate: str
    hold_id: str  # the pending transfer holding what is left
    kid: str  # the offline key that signed the certificate

    @property
    def remaining(self) -> int:
        return self.amount - self.spent

    def status_at(self, now: float) -> str:
        if self.status == "closed":
            return "closed"
        return "expired" if now >= self.expires_at else "active"


@dataclass(frozen=True)
class Voucher:
    """A voucher's payload, once its signature verified and its fields are well typed."""

    compact: str
    allowance_id: str
    seq: int
    prev: str
    amount: int
    cumulative: int
    currency: str
    payee: str
    iat: int

    @property
    def digest(self) -> str:
        return voucher_hash(self.compact)


@dataclass(frozen=True)
class Redemption:
    """(allowance, seq) credited once: what a replay answers and a double spend is told from."""

    allowance_id: str
    seq: int
    voucher_hash: str
    voucher: str
    payee_id: str
    transfer_id: str
    amount: int
    created_at: str


@dataclass(frozen=True)
class DoubleSpend:
    """Two different vouchers for one (allowance, seq): kept for a person, device frozen."""

    evidence_id: str
    allowance_id: str
    seq: int
    device_id: str
    owner_id: str
    first_voucher: str
    second_voucher: str
    presented_by: str
    created_at: str


@dataclass(frozen=True)
class Result:
    seq: int | None
    status: str
    code: str | None = None
    transfer_id: str | None = None

    def view(self) -> VoucherResultView:
        out: VoucherResultView = {"seq": self.seq, "status": self.status}
        if self.code:
            out["code"] = self.code
        if self.transfer_id:
            out["transfer_id"] = self.transfer_id
        return out


class Refused(Exception):
    """A voucher the hold cannot credit: `code` is its rejection code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class SeqTaken(Exception):
    """Its (allowance, seq) was credited already: `first` says by which voucher."""

    def __init__(self, first: Redemption) -> None:
        super().__init__(first.allowance_id, first.seq)
        self.first = first


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def voucher_hash(compact: str) -> str:
    """What a voucher is told apart by (and what the next one's `prev` names)."""
    return b64url(hashlib.sha256(compact.encode("ascii", "replace")).digest())


_B64URL = re.compile(r"[A-Za-z0-9_-]+")


def canonical_jws(compact: str) -> bool:
    """Three base64url segments, each the one canonical encoding of its bytes (no padding, no
    stray bits), with a 64-byte signature. A token has exactly one spelling, so its hash names
    it: PyJWT also accepts padded or bit-flipped spellings of one signature, and a payee could
    otherwise present one voucher twice as two "different" vouchers (a fake double spend)."""
    parts = compact.split(".") if isinstance(compact, str) else []
    return (len(parts) == 3 and all(canonical_b64url(part) is not None for part in parts)
            and len(canonical_b64url(parts[2]) or b"") == 64)


def canonical_b64url(text: str) -> bytes | None:
    """The bytes `text` spells if it is their one canonical unpadded base64url spelling."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if b64url(raw) == text else None


def device_key_ok(text: str) -> bool:
    """base64url (unpadded, canonical) of exactly 32 bytes."""
    return len(canonical_b64url(text) or b"") == 32


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_voucher(compact: str, payload: dict[str, Any]) -> Voucher | None:
    """The voucher if every field has the type and range the format says; else None."""
    p = payload
    ints = (p.get("seq"), p.get("amount"), p.get("cumulative"), p.get("iat"))
    strs = (p.get("allowance_id"), p.get("prev"), p.get("currency"), p.get("payee"))
    if not all(_int(v) for v in ints) or not all(isinstance(v, str) for v in strs):
        return None
    if not 1 <= p["seq"] <= MAX_SEQ or p["amount"] <= 0 or p["cumulative"] < p["amount"]:
        return None
    return Voucher(compact, p["allowance_id"], p["seq"], p["prev"], p["amount"], p["cumulative"], p["currency"],
                   p["payee"], p["iat"])


def voucher_terms(allowance: Allowance, v: Voucher, payee: str) -> str | None:
    """Why the server refuses a signed voucher before trying to credit it, or None. The hold
    itself (`over_allowance` when the rest is spent) is the transaction's condition."""
    if v.allowance_id != allowance.allowance_id:
        return "invalid_signature"  # signed by the device, but not under this certificate
    if v.currency != allowance.currency:
        return "currency_mismatch"
    if v.iat > allowance.expires_at:
        return "expired"
    if v.payee != payee:
        return "wrong_payee"
    if v.cumulative > allowance.amount or v.amount > allowance.amount:
        return "over_allowance"
    return None


def certificate_claims(a: Allowance, device_key: str, issuer: str, issued_at: int) -> dict[str, Any]:
    return {"iss": issuer, "allowance_id": a.allowance_id, "device_id": a.device_id, "device_key": device_key,
            "owner": a.user_id, "amount": a.amount, "currency": a.currency, "iat": issued_at, "exp": a.expires_at}


def outstanding_expiry(issued_at: int, grace_seconds: int) -> int:
    """When the outstanding counter may be forgotten: after every allowance it counts has closed
    (the longest expiry, the grace, and a margin for a late release job)."""
    return issued_at + MAX_EXPIRES_IN + grace_seconds + OUTSTANDING_MARGIN


def outstanding_key(user_id: str, currency: str) -> str:
    """The counter of what a user holds in open allowances of a currency, less what was spent."""
    return f"offline#{user_id}#{currency}"
