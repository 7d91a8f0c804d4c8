"""The payee's offline check of a voucher (API.md, "A payee accepts a voucher offline when").

Offline, a payee cannot ask the server whether a voucher was spent elsewhere; it can check that
the server certified the device for this allowance, that the device signed this voucher to this
payee within the allowance, and that the voucher agrees with every voucher of the allowance it
has seen (`Seen`). What it cannot see (a clone paying someone else the same seq) the server
refuses at redemption and freezes the device; the loss is bounded by the allowance, held already.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from offline_wallet import jws
from offline_wallet.keys import public_from_text
from offline_wallet.payer import CERTIFICATE_TYP, VOUCHER_TYP, voucher_hash

MAX_SEQ = 2**53 - 1


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    code: str | None = None  # why not: the contract's redemption codes where one applies
    seq: int | None = None
    amount: int | None = None


@dataclass
class Seen:
    """Per allowance, the vouchers this payee accepted: seq -> (hash, cumulative). Keep it for as
    long as the allowance can be redeemed (its exp plus the grace period)."""

    vouchers: dict[str, dict[int, tuple[str, int]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {a: {str(s): list(v) for s, v in seqs.items()} for a, seqs in self.vouchers.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Seen:
        return cls({a: {int(s): (str(v[0]), int(v[1])) for s, v in seqs.items()} for a, seqs in data.items()})


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check(certificate: str, voucher: str, offline_keys: dict[str, Ed25519PublicKey], me: str,
          seen: Seen) -> Verdict:
    """Accept or refuse one voucher; an accepted one is recorded in `seen`."""
    signed = _signed(certificate, voucher, offline_keys)
    if signed is None:
        return Verdict(False, "invalid_signature")
    a, p = signed
    fields = (p.get("seq"), p.get("amount"), p.get("cumulative"), p.get("iat"), a.get("amount"), a.get("exp"))
    # The same shape the server requires (chalicelib/domain/offline.py, read_voucher), so what a
    # payee accepts offline is never refused online as malformed.
    if (not all(_int(f) for f in fields) or not 1 <= p["seq"] <= MAX_SEQ or p["amount"] <= 0
            or p["cumulative"] < p["amount"]):
        return Verdict(False, "invalid_voucher")
    seq, amount = int(p["seq"]), int(p["amount"])
    code = _terms(a, p, me) or _chain(seen.vouchers.setdefault(str(a["allowance_id"]), {}), p, voucher_hash(voucher))
    return Verdict(code is None, code, seq, amount)


def _signed(certificate: str, voucher: str, offline_keys: dict[str, Ed25519PublicKey]
            ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(allowance, voucher) payloads if the server certified the device and the device signed."""
    try:
        cert, v = jws.read(certificate), jws.read(voucher)
        server_key = offline_keys.get(str(cert.header.get("kid")))
        if (server_key is None or cert.header.get("typ") != CERTIFICATE_TYP or not cert.verifies_with(server_key)
                or v.header.get("typ") != VOUCHER_TYP
                or not v.verifies_with(public_from_text(str(cert.payload.get("device_key"))))):
            return None
    except ValueError:  # a malformed token or key
        return None
    return cert.payload, v.payload


def _terms(a: dict[str, Any], p: dict[str, Any], me: str) -> str | None:
    """What the certificate allows this voucher, and to whom."""
    if p.get("allowance_id") != a.get("allowance_id"):
        return "invalid_voucher"
    if p.get("currency") != a.get("currency"):
        return "currency_mismatch"
    if p["cumulative"] > a["amount"]:
        return "over_allowance"
    if p["iat"] > a["exp"]:
        return "expired"
    if p.get("payee") != me:
        return "wrong_payee"
    return None


def _chain(mine: dict[int, tuple[str, int]], p: dict[str, Any], digest: str) -> str | None:
    """Agreement with the vouchers of this allowance already accepted; records this one."""
    seq, amount, cumulative = int(p["seq"]), int(p["amount"]), int(p["cumulative"])
    if seq in mine:  # this seq was paid to me before: the same voucher, or a clone's
        return "already_seen" if mine[seq][0] == digest else "double_spend"
    before, after = mine.get(seq - 1), mine.get(seq + 1)
    if seq == 1 and (p.get("prev") != "" or cumulative != amount):
        return "broken_chain"
    if before and (p.get("prev") != before[0] or cumulative != before[1] + amount):
        return "broken_chain"
    if after and cumulative >= after[1]:  # amounts are positive: the chain only rises
        return "broken_chain"
    mine[seq] = (digest, cumulative)
    return None
