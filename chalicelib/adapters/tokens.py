"""Access tokens: JWTs signed with Ed25519 (EdDSA), carrying a `kid`, verified with a pinned
algorithm list. Also publishes the public keys as a JWKS."""
from __future__ import annotations

from typing import Any

from chalicelib.adapters.signing_keys import ALGORITHMS, Ed25519KeyRing, generate_private_pem
from chalicelib.domain.errors import Unauthorized

__all__ = ["ALGORITHMS", "TOKEN_TYPE", "JwtKeys", "generate_private_pem"]

TOKEN_TYPE = "at+jwt"


class JwtKeys(Ed25519KeyRing):
    """The current signing key plus any retired public keys still accepted (rotation)."""

    def __init__(self, private_pem: str, retired_public_pems: tuple[str, ...] = ()) -> None:
        super().__init__(private_pem, retired_public_pems, what="JWT signing")

    def sign(self, claims: dict[str, Any]) -> str:
        return self._sign(claims, TOKEN_TYPE)

    def verify(self, token: str, *, audience: str, issuer: str) -> dict[str, Any]:
        """The verified claims, or `Unauthorized` for anything forged, expired or malformed."""
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
