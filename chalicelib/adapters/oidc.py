"""Verification of Google / Facebook (Limited Login) ID tokens: OIDC JWTs signed by the provider.

The signature is checked against the provider's JWKS (fetched by PyJWKClient and cached), then
issuer, audience and expiry. In AWS the JWKS URL is the provider's HTTPS endpoint; the local stack
points it at a file:// JWKS of its own key pair.
"""
from __future__ import annotations

from typing import Any

from chalicelib.domain.errors import Unauthorized

ID_TOKEN_ALGORITHMS = ["RS256", "ES256"]


class OidcVerifier:
    def __init__(self, issuer: str, audience: str, jwks_url: str) -> None:
        self.issuer, self.audience, self.jwks_url = issuer, audience, jwks_url
        self._client: Any = None

    def verify(self, id_token: str) -> dict[str, Any]:
        import jwt

        if self._client is None:
            self._client = jwt.PyJWKClient(self.jwks_url, cache_keys=True, lifespan=3600, timeout=5)
        try:
            key = self._client.get_signing_key_from_jwt(id_token)
            claims: dict[str, Any] = jwt.decode(
                id_token, key.key, algorithms=ID_TOKEN_ALGORITHMS, audience=self.audience, issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]})
        except (jwt.PyJWTError, jwt.PyJWKClientError, ValueError):
            raise Unauthorized("The ID token is not valid.") from None
        return claims
