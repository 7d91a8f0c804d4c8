"""The offline key: signs allowance certificates; reads certificates and verifies vouchers.

A key of its own (never the access-token key): a leak of one does not forge the other. Its
public half is published at /.well-known/offline-keys.json for payees to check certificates
offline; a retired key stays in the ring (and the JWKS) until every allowance it certified has
closed, so a payee can still check vouchers under it (docs/offline-payments.md).
"""
from __future__ import annotations

import base64
from typing import Any

from chalicelib.adapters.signing_keys import ALGORITHMS, Ed25519KeyRing
from chalicelib.domain.offline import CERTIFICATE_TYP, VOUCHER_TYP, device_key_ok

# The device's clock is not ours: a voucher's `iat` is compared with the allowance's `exp`
# only, never with our clock, and a certificate stays readable after its `exp` (the grace).
_LENIENT: Any = {"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False}


class OfflineKeys(Ed25519KeyRing):
    def __init__(self, private_pem: str, retired_public_pems: tuple[str, ...] = ()) -> None:
        super().__init__(private_pem, retired_public_pems, what="offline signing")

    def sign_certificate(self, claims: dict[str, Any]) -> str:
        return self._sign(claims, CERTIFICATE_TYP)

    def claims(self, compact: str) -> dict[str, Any] | None:
        """A certificate's claims, unverified (the stored copy is compared by the caller)."""
        import jwt

        try:
            if jwt.get_unverified_header(compact).get("typ") != CERTIFICATE_TYP:
                return None
            claims: dict[str, Any] = jwt.decode(compact, options={"verify_signature": False})
        except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
            return None
        return claims

    def voucher(self, compact: str, device_key: str) -> dict[str, Any] | None:
        """The payload of a voucher the device with `device_key` signed, else None."""
        import jwt
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        if not device_key_ok(device_key):
            return None
        try:
            if jwt.get_unverified_header(compact).get("typ") != VOUCHER_TYP:
                return None
            key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(device_key + "="))
            payload: dict[str, Any] = jwt.decode(compact, key, algorithms=ALGORITHMS, options=_LENIENT)
        except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
            return None
        return payload
