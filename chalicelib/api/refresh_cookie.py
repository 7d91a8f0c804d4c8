"""The web wallet's refresh token, kept in a cookie that no script of the page can read.

The web wallet reaches the API under its own origin (`WEB_URL` + `WEB_API_PREFIX`: CloudFront's
`/api/*` behaviour in AWS, devstack/web_server.py locally), and asks for its refresh token in a
cookie by sending `X-Refresh-Cookie: 1` on login, social sign-in, refresh and logout. Then the
token is not in the JSON body but in an HttpOnly, Secure, SameSite=Strict cookie whose Path is the
refresh route (and a second one for the logout route), as the browser sees them: under the
prefix. Without the header nothing changes: other clients keep the token pair in JSON bodies.

Cross-site request forgery: the cookie is SameSite=Strict (another site's page never sends it),
and it is read only from a request that carries the header, which a form cannot send and a
cross-origin script cannot either (CORS does not allow it: `api.auth.CORS_ALLOW_HEADERS`).
"""
from __future__ import annotations

from collections.abc import Mapping

# The path under which the web wallet's origin serves the API. In AWS it is also the name of the
# REST API's stage (`api_gateway_stage`), so the API's own address has the same paths.
WEB_API_PREFIX = "/api"
NAME = "ewallet_refresh"
HEADER = "X-Refresh-Cookie"  # "1": this client keeps its refresh token in the cookie
PATHS = (f"{WEB_API_PREFIX}/auth/refresh", f"{WEB_API_PREFIX}/auth/logout")
MAX_TOKEN = 512  # as a refresh token in a body may be: a longer cookie names no login
_ATTRIBUTES = "Secure; HttpOnly; SameSite=Strict"


def wanted(headers: Mapping[str, str]) -> bool:
    """Whether the client asked for (and may use) the cookie."""
    return headers.get(HEADER.lower()) == "1"


def set_cookies(refresh_token: str, max_age: int) -> list[str]:
    """`Set-Cookie` values: the token, for the refresh route and for the logout route."""
    return [f"{NAME}={refresh_token}; Path={path}; Max-Age={max_age}; {_ATTRIBUTES}" for path in PATHS]


def clear_cookies() -> list[str]:
    """`Set-Cookie` values that make the browser forget both cookies."""
    return [f"{NAME}=; Path={path}; Max-Age=0; {_ATTRIBUTES}" for path in PATHS]


def read(cookie_header: str | None) -> str | None:
    """The refresh token from a `Cookie` header, if there is one (the first of that name)."""
    for pair in (cookie_header or "").split(";"):
        name, sep, value = pair.strip().partition("=")
        if sep and name == NAME:
            value = value.strip('"')
            return value if 0 < len(value) <= MAX_TOKEN and value.isascii() else None
    return None
