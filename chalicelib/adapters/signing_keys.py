"""An Ed25519 key ring: the current signing key plus retired public keys still accepted.

Shared by the access-token keys and the offline-allowance keys (two different keys, one way of
handling them): each key is named by a `kid` derived from its public bytes, signs compact JWS
with `alg: EdDSA`, and is published as a JWKS. Rotation: sign with the new private key and keep
the old public key in `retired_public_pems` for as long as something it signed may be presented.
"""
from __future__ import annotations

import base64
import hashlib
from typing import Any

ALGORITHMS = ["EdDSA"]  # pinned: `alg: none`, HS256-with-the-public-key etc. are refused


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _raw(public: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


class Ed25519KeyRing:
    def __init__(self, private_pem: str, retired_public_pems: tuple[str, ...] = (), *, what: str = "signing") -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"the {what} key must be an Ed25519 private key")
        self._private = key
        self._public: dict[str, Ed25519PublicKey] = {}
        for public in (key.public_key(), *(serialization.load_pem_public_key(p.encode())
                                           for p in retired_public_pems)):
            if not isinstance(public, Ed25519PublicKey):
                raise ValueError(f"retired {what} keys must be Ed25519 public keys")
            self._public[self._kid(public)] = public
        self.kid = self._kid(key.public_key())

    @staticmethod
    def _kid(public: Any) -> str:
        return hashlib.sha256(_raw(public)).hexdigest()[:16]

    def _sign(self, claims: dict[str, Any], typ: str) -> str:
        import jwt

        return jwt.encode(claims, self._private, algorithm="EdDSA", headers={"kid": self.kid, "typ": typ})

    def _key_for(self, token: str, typ: str) -> Any:
        """The public key that must have signed `token` (by its `kid`), if its type is `typ`."""
        import jwt

        header = jwt.get_unverified_header(token)
        if header.get("typ") != typ:
            return None
        return self._public.get(str(header.get("kid")))

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64url(_raw(public)), "kid": kid, "use": "sig",
                          "alg": "EdDSA"} for kid, public in self._public.items()]}


def generate_private_pem() -> str:
    """A new Ed25519 signing key (local stack, tests)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
