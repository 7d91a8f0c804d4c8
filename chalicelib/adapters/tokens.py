"""Access tokens: JWTs signed with Ed25519 (EdDSA), carrying a `kid`, verified with a pinned
algorithm list. Also publishes the public keys as a JWKS."""
from __future__ import annotations

import base64
import hashlib
from typing import Any

from chalicelib.domain.errors import Unauthorized

ALGORITHMS = ["EdDSA"]  # pinned: `alg: none`, HS256-with-the-public-key etc. are refused
TOKEN_TYPE = "at+jwt"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class JwtKeys:
    """The current signing key plus any retired public keys still accepted (rotation)."""

    def __init__(self, private_pem: str, retired_public_pems: tuple[str, ...] = ()) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the JWT signing key must be an Ed25519 private key")
        self._private = key
        self._public: dict[str, Ed25519PublicKey] = {}
        for public in (key.public_key(), *(serialization.load_pem_public_key(p.encode())
                                           for p in retired_public_pems)):
            if not isinstance(public, Ed25519PublicKey):
                raise ValueError("retired JWT keys must be Ed25519 public keys")
            self._public[self._kid(public)] = public
        self.kid = self._kid(key.public_key())

    @staticmethod
    def _kid(public: Any) -> str:
        from cryptography.hazmat.primitives import serialization

        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()[:16]

    def sign(self, claims: dict[str, Any]) -> str:
        import jwt

        return jwt.encode(claims, self._private, algorithm="EdDSA", headers={"kid": self.kid, "typ": TOKEN_TYPE})

    def verify(self, token: str, *, audience: str, issuer: str) -> dict[str, Any]:
        """The verified claims, or `Unauthorized` for anything forged, expired or malformed."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
            key = self._public.get(str(header.get("kid")))
            if key is None or header.get("typ") != TOKEN_TYPE:
                raise Unauthorized()
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=ALGORITHMS, audience=audience, issuer=issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss", "jti"]})
        except jwt.PyJWTError:
            raise Unauthorized() from None
        if claims.get("token_use") != "access":
            raise Unauthorized()
        return claims

    def jwks(self) -> dict[str, Any]:
        from cryptography.hazmat.primitives import serialization

        keys = []
        for kid, public in self._public.items():
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            keys.append({"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": kid, "use": "sig", "alg": "EdDSA"})
        return {"keys": keys}


def generate_private_pem() -> str:
    """A new Ed25519 signing key (local stack, tests)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


