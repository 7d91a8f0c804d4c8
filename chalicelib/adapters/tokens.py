"""Access tokens: JWTs signed with Ed25519 (EdDSA), carrying a `kid`, verified with a pinned
algorithm list. Also publishes the public keys as a JWKS."""
from __future__ import annotations

import time
from typing import Any

from chalicelib.adapters.signing_keys import ALGORITHMS, Ed25519KeyRing, generate_private_pem
from chalicelib.domain.errors import Unauthorized

__all__ = ["ALGORITHMS", "TOKEN_TYPE", "JwtKeys", "generate_private_pem"]

TOKEN_TYPE = "at+jwt"
# Tokens already verified by this container, kept until they expire: a person's requests
# carry the same token for its 15 minutes, and checking its signature again each time cost
# about 0.4 ms of the transfer's own CPU (bench/profile.py). Bounded: emptied when full.
VERIFIED_MAX = 2048


class JwtKeys(Ed25519KeyRing):
    """The current signing key plus any retired public keys still accepted (rotation)."""

    def __init__(self, private_pem: str, retired_public_pems: tuple[str, ...] = ()) -> None:
        super().__init__(private_pem, retired_public_pems, what="JWT signing")
        self._verified: dict[tuple[str, str, str], dict[str, Any]] = {}

    def sign(self, claims: dict[str, Any]) -> str:
        return self._sign(claims, TOKEN_TYPE)

    def verify(self, token: str, *, audience: str, issuer: str) -> dict[str, Any]:
        """The verified claims, or `Unauthorized` for anything forged, expired or malformed.
        A token verified before (same audience and issuer) is not verified again until it
        expires: its signature and claims cannot have changed, only the clock has. Whether its
        session still stands is the caller's question, asked on every request."""
        cache_key = (token, audience, issuer)
        known = self._verified.get(cache_key)
        if known is not None:
            if known["exp"] > time.time():
                return dict(known)
            self._verified.pop(cache_key, None)
        claims = self._verify(token, audience=audience, issuer=issuer)
        if len(self._verified) >= VERIFIED_MAX:
            self._verified.clear()
        self._verified[cache_key] = dict(claims)
        return claims

    def _verify(self, token: str, *, audience: str, issuer: str) -> dict[str, Any]:
        import jwt

        try:
            key = self._key_for(token, TOKEN_TYPE)
            if key is None:
                raise Unauthorized()
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=ALGORITHMS, audience=audience, issuer=issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss", "jti"]})
        except jwt.PyJWTError:
            raise Unauthorized() from None
        if claims.get("token_use") != "access":
            raise Unauthorized()
        return claims
