"""The local stand-in for Google's and Facebook's ID-token signing keys.

An RSA key pair is generated on first start; its public half is published as a JWKS file that the
app reads through a file:// URL, exactly as it reads the providers' JWKS over HTTPS in AWS. Tests
sign ID tokens with the private half.
"""
from __future__ import annotations

import json
from pathlib import Path

AUDIENCE = "ewallet-local-client"
GOOGLE_ISSUER = "https://accounts.google.com"
FACEBOOK_ISSUER = "https://www.facebook.com"


def ensure_keys(state: Path) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    folder = state / "oidc"
    folder.mkdir(parents=True, exist_ok=True)
    private_path, jwks_path = folder / "private.pem", folder / "jwks.json"
    if not private_path.exists() or not jwks_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        import hashlib

        kid = "local-" + hashlib.sha256(pem).hexdigest()[:16]
        jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
        private_path.write_bytes(pem)
        private_path.chmod(0o600)
        jwks_path.write_text(json.dumps({"keys": [jwk]}, indent=2))
    kid = json.loads(jwks_path.read_text())["keys"][0]["kid"]
    jwks_url = jwks_path.resolve().as_uri()
    return {
        "OIDC_PRIVATE_KEY_PATH": str(private_path.resolve()),
        "OIDC_KEY_ID": kid,
        "OIDC_AUDIENCE": AUDIENCE,
        "GOOGLE_ISSUER": GOOGLE_ISSUER,
        "FACEBOOK_ISSUER": FACEBOOK_ISSUER,
        "GOOGLE_JWKS_URL": jwks_url,
        "FACEBOOK_JWKS_URL": jwks_url,
        "GOOGLE_AUDIENCE": AUDIENCE,
        "FACEBOOK_AUDIENCE": AUDIENCE,
    }
