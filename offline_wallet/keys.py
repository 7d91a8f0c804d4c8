"""A device's Ed25519 key, and the server's published offline keys (JWKS)."""
from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from offline_wallet.jws import b64url, unb64url


def new_device_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_to_text(key: Ed25519PrivateKey) -> str:
    """The raw 32-byte seed, base64url: what the device keeps (in its secure storage)."""
    return b64url(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def private_from_text(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(unb64url(text))


def public_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte public key, base64url: what `POST /offline/devices` takes."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return b64url(public.public_bytes(Encoding.Raw, PublicFormat.Raw))


def public_from_text(text: str) -> Ed25519PublicKey:
    raw = unb64url(text)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def offline_keys(jwks: dict[str, Any]) -> dict[str, Ed25519PublicKey]:
    """kid -> key, from `GET /.well-known/offline-keys.json` (kept on the payee's phone)."""
    found = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and isinstance(jwk.get("kid"), str):
            try:
                found[jwk["kid"]] = public_from_text(jwk["x"])
            except (KeyError, ValueError):
                continue
    return found
