"""The paying device: signs vouchers that keep the chain (seq, prev, cumulative), offline."""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from offline_wallet import jws

VOUCHER_TYP = "offline-voucher+jwt"
CERTIFICATE_TYP = "offline-allowance+jwt"


class CannotPay(ValueError):
    """The device refuses to sign: the voucher could never be redeemed."""


def voucher_hash(compact: str) -> str:
    """What the next voucher's `prev` names: base64url SHA-256 of the compact form."""
    return jws.b64url(hashlib.sha256(compact.encode("ascii")).digest())


@dataclass
class Chain:
    """What a device keeps for one allowance: its certificate and where its chain stands. Losing
    it (or cloning the device) can only lead to a double spend the server refuses and freezes."""

    certificate: str
    seq: int = 0
    prev: str = ""
    cumulative: int = 0

    @property
    def allowance(self) -> dict[str, Any]:
        return jws.read(self.certificate).payload

    @property
    def remaining(self) -> int:
        return int(self.allowance["amount"]) - self.cumulative

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sign_voucher(chain: Chain, key: Ed25519PrivateKey, payee: str, amount: int, now: float | None = None) -> str:
    """A voucher for `amount` (minor units) to `payee` (their user id); the chain moves on."""
    allowance = chain.allowance
    iat = int(time.time() if now is None else now)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise CannotPay("the amount must be a positive integer of minor units")
    if amount > chain.remaining:
        raise CannotPay(f"only {chain.remaining} left in this allowance")
    if iat > int(allowance["exp"]):
        raise CannotPay("the allowance has expired")
    if not isinstance(payee, str) or not payee:
        raise CannotPay("the payee is a user id")
    payload = {"allowance_id": allowance["allowance_id"], "seq": chain.seq + 1, "prev": chain.prev,
               "amount": amount, "cumulative": chain.cumulative + amount, "currency": allowance["currency"],
               "payee": payee, "iat": iat}
    voucher = jws.sign({"alg": "EdDSA", "typ": VOUCHER_TYP}, payload, key)
    chain.seq, chain.prev, chain.cumulative = payload["seq"], voucher_hash(voucher), payload["cumulative"]
    return voucher
