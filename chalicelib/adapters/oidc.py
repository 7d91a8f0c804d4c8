"""Verification of Google / Facebook (Limited Login) ID tokens: OIDC JWTs signed by the provider.

The signature is checked against the provider's JWKS, then issuer, audience and expiry. The JWKS
is fetched on first use and cached; an unknown `kid` refetches it (providers rotate keys), at
most once a minute. In AWS the JWKS URL is the provider's HTTPS endpoint; the local stack uses a
file:// JWKS of its own key pair (PyJWKClient accepts only http(s), so the fetch is ours and the
key parsing PyJWT's).
"""
from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from typing import Any

from chalicelib.domain.errors import ServiceUnavailable, Unauthorized

ID_TOKEN_ALGORITHMS = ["RS256", "ES256"]
REFETCH_AFTER = 60
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


class OidcVerifier:
    def __init__(self, issuer: str, audience: str, jwks_url: str) -> None:
        parsed = urllib.parse.urlparse(jwks_url)
        if not (parsed.scheme in ("https", "file") or (parsed.scheme == "http" and parsed.hostname in _LOOPBACK)):
            raise ValueError(f"JWKS URL must be https (or file/loopback for the local stack): {jwks_url}")
        self.issuer, self.audience, self.jwks_url = issuer, audience, jwks_url
        self._keys: dict[str, Any] | None = None
        self._fetched = 0.0

    def _fetch(self) -> dict[str, Any]:
        import jwt

        try:
            with urllib.request.urlopen(self.jwks_url, timeout=5) as r:  # scheme checked in __init__
                data = json.loads(r.read())
            keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(data).keys if k.key_id}
        except (OSError, ValueError, jwt.PyJWTError):
            raise ServiceUnavailable("The sign-in provider's keys could not be fetched.") from None
        self._fetched = time.time()
        self._keys = keys
        return keys

    def _key(self, kid: str) -> Any:
        keys = self._keys if self._keys is not None else self._fetch()
        if kid not in keys and time.time() - self._fetched > REFETCH_AFTER:
            keys = self._fetch()
        if kid not in keys:
            raise Unauthorized("The ID token is not valid.")
        return keys[kid]

    def verify(self, id_token: str) -> dict[str, Any]:
        import jwt

        try:
            kid = jwt.get_unverified_header(id_token).get("kid")
            if not isinstance(kid, str):
                raise Unauthorized("The ID token is not valid.")
            key = self._key(kid)
            claims: dict[str, Any] = jwt.decode(
                id_token, key.key, algorithms=ID_TOKEN_ALGORITHMS, audience=self.audience, issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]})
        except jwt.PyJWTError:
            raise Unauthorized("The ID token is not valid.") from None
        return claims
