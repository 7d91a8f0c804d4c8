"""Forged access tokens, shared by the unit and e2e tests: each must be refused with 401."""
from __future__ import annotations

import base64
import json
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(token: str) -> tuple[dict, dict, str]:
    h, p, s = token.split(".")
    pad = lambda x: x + "=" * (-len(x) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(h))), json.loads(base64.urlsafe_b64decode(pad(p))), s


def forgeries(valid: str, jwks: dict) -> dict[str, str]:
    """Tokens derived from a valid one that a correct verifier must all refuse."""
    header, claims, sig = _segments(valid)
    now = int(time.time())
    other_key = Ed25519PrivateKey.generate()
    public_pem = None
    # The raw public key bytes from the JWKS: what an attacker can download.
    x = jwks["keys"][0]["x"]
    raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    public_pem = Ed25519PublicKey.from_public_bytes(raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def unsigned(h: dict, c: dict, signature: str = "") -> str:
        return f"{_b64(json.dumps(h).encode())}.{_b64(json.dumps(c).encode())}.{signature}"

    def hs256_with(secret: bytes, c: dict) -> str:
        import hashlib
        import hmac

        h = {"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]}
        signing_input = f"{_b64(json.dumps(h).encode())}.{_b64(json.dumps(c).encode())}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(mac)}"

    def resigned(c: dict, h: dict | None = None, key=other_key) -> str:
        return jwt.encode(c, key, algorithm="EdDSA", headers=h or {"kid": header["kid"], "typ": "at+jwt"})

    tampered = dict(claims, sub="usr_someone_else")
    return {
        "alg_none_unsigned": unsigned(dict(header, alg="none"), claims),
        "alg_none_with_signature": unsigned(dict(header, alg="none"), claims, sig),
        "hs256_with_public_key": hs256_with(public_pem, claims),
        "tampered_claims": unsigned(header, tampered, sig),
        "signed_by_another_key": resigned(claims),
        "unknown_kid": resigned(claims, {"kid": "nope", "typ": "at+jwt"}),
        "expired": unsigned(header, dict(claims, exp=now - 10), sig),
        "wrong_audience": unsigned(header, dict(claims, aud="someone-else"), sig),
        "wrong_issuer": unsigned(header, dict(claims, iss="https://evil.example"), sig),
        "garbage": "garbage",
        "three_dots": "a.b.c",
        "empty_segments": "..",
    }
