"""Compact JWS with Ed25519 (`alg: EdDSA`, RFC 8037): sign, read, verify. Small on purpose, so
a device needs no JWT library; the server verifies the same bytes with PyJWT."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class Malformed(ValueError):
    """Not a compact JWS we can read."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64url(text: str) -> bytes:
    """Strict: only the one canonical spelling of some bytes (the server takes no other, so a
    payee never accepts a voucher the server would refuse as malformed)."""
    if not isinstance(text, str) or any(c in text for c in "=+/ \n"):
        raise Malformed("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise Malformed("not base64url") from None
    if b64url(raw) != text:
        raise Malformed("not canonical base64url")
    return raw


def sign(header: dict[str, Any], payload: dict[str, Any], key: Ed25519PrivateKey) -> str:
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                     + b64url(json.dumps(payload, separators=(",", ":")).encode()))
    return signing_input + "." + b64url(key.sign(signing_input.encode("ascii")))


@dataclass(frozen=True)
class Token:
    compact: str
    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes

    def verifies_with(self, key: Ed25519PublicKey) -> bool:
        if self.header.get("alg") != "EdDSA":
            return False
        try:
            key.verify(self.signature, self.signing_input)
        except InvalidSignature:
            return False
        return True


def read(compact: str) -> Token:
    """Parse without verifying (verify with `Token.verifies_with`)."""
    if not isinstance(compact, str) or len(compact) > 8192:
        raise Malformed("not a compact JWS")
    parts = compact.split(".")
    if len(parts) != 3:
        raise Malformed("not a compact JWS")
    try:
        header, payload = (json.loads(unb64url(p)) for p in parts[:2])
    except (ValueError, UnicodeDecodeError):
        raise Malformed("not JSON") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise Malformed("not JSON objects")
    return Token(compact, header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), unb64url(parts[2]))
