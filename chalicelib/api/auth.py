"""Authentication and response hygiene for every HTTP request, in one middleware.

Default deny: every route requires a valid access token unless its view was declared
`public=True` with `api.routing.route`, so a route added without thought is protected, not
open. The token is verified in-app rather than by an API Gateway authorizer so that a missing,
forged or expired token gets the contract's 401 body both under `chalice local` and in AWS, and no
authorizer Lambda adds a cold start (docs/architecture.md).
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from chalice import Chalice, Response
from chalice.app import Request

from chalicelib import observability
from chalicelib.api.errors import error_body, error_response, internal_error_response, translate_chalice_error
from chalicelib.api.routing import MAX_BODY_BYTES, served_methods
from chalicelib.domain.errors import DomainError, PayloadTooLarge, Unauthorized
from chalicelib.domain.principal import Principal

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    # Responses carry tokens and personal data: never let a proxy or browser keep them.
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class AccessTokenVerifier(Protocol):
    def verify_access(self, token: str) -> Principal:
        """The token's principal, or raise `Unauthorized`."""

    def verify_token(self, token: str) -> Principal:
        """The token's principal with its session still to confirm (`Principal.pending`)."""

    def confirm_session(self, principal: Principal) -> None:
        """Raise `Unauthorized` unless the principal's session is active."""

    def require_verified(self, principal: Principal) -> None:
        """Raise `VerificationRequired` unless the principal's account has a verified contact."""


def is_public(app: Chalice, request: Request) -> bool:
    path = (request.context or {}).get("resourcePath")
    views = app.routes.get(path or "", {})
    entry = views.get(request.method)
    if entry is None:
        # No view for this method (Chalice answers 405 or 404 itself): it reveals nothing a
        # public view on the same path would not.
        return any(getattr(e.view_function, "public", False) for e in views.values())
    return bool(getattr(entry.view_function, "public", False))


def _view(app: Chalice, request: Request) -> Any:
    entry = app.routes.get((request.context or {}).get("resourcePath") or "", {}).get(request.method)
    return entry.view_function if entry else None


def reads_session_itself(app: Chalice, request: Request) -> bool:
    """Whether the view reads the caller's session in its own first read (one round trip less)."""
    return bool(getattr(_view(app, request), "reads_session", False))


def needs_verified_account(app: Chalice, request: Request) -> bool:
    """Whether the route refuses accounts without a verified contact (`RouteSpec`)."""
    spec = getattr(_view(app, request), "spec", None)
    return bool(spec is not None and spec.needs_verified_account)


def bearer_token(header: str | None) -> str:
    if not header:
        raise Unauthorized()
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    return token.strip()


CORS_ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key"
CORS_EXPOSE_HEADERS = "Idempotent-Replayed, Retry-After"


def cors_headers(request: Request, allowed_origins: tuple[str, ...]) -> dict[str, str]:
    """CORS headers for a configured origin only; none for any other (the browser then blocks)."""
    origin = request.headers.get("origin")
    if not origin or origin not in allowed_origins:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
            "Access-Control-Expose-Headers": CORS_EXPOSE_HEADERS}


def install(app: Chalice, verifier: Callable[[], AccessTokenVerifier],
            cors_origins: Callable[[], tuple[str, ...]] = tuple) -> None:
    """Register the middleware on `app`; `verifier` is called only when a token must be checked."""

    @app.middleware("http")
    def authenticate(request: Request, get_response: Callable[[Request], Response]) -> Response:
        started = time.perf_counter()
        context = request.context or {}
        # API Gateway's request id (chalice local has none: make one), echoed for support.
        request_id = str(context.get("requestId") or uuid.uuid4())
        observability.bind(request_id=request_id, path=context.get("resourcePath"), method=request.method)
        try:
            raw = request.raw_body or b""
            if len(raw) > MAX_BODY_BYTES:
                raise PayloadTooLarge()
            principal = None
            if not is_public(app, request):
                token = bearer_token(request.headers.get("authorization"))
                if reads_session_itself(app, request):
                    principal = verifier().verify_token(token)
                else:
                    principal = verifier().verify_access(token)
                request.context["principal"] = principal
                observability.bind(user_id=principal.user_id)  # an opaque id: never e-mail or phone
                if not principal.verified and needs_verified_account(app, request):
                    # Only tokens issued before the account had a verified contact pay this
                    # read (the `cv` claim). The session first: a revoked login gets its 401,
                    # and a route that reads its session itself writes nothing before this.
                    if principal.pending:
                        verifier().confirm_session(principal)
                    verifier().require_verified(principal)
            response = get_response(request)
            if principal is not None and principal.pending and not principal.pending.confirmed:
                # The view answered before reading the session (a malformed body, say): a
                # revoked login learns nothing from its answer.
                verifier().confirm_session(principal)
        except DomainError as err:
            response = error_response(err)
        except Exception:
            log.exception("unhandled error before the view")
            response = internal_error_response()
        response = translate_chalice_error(response)
        if response.status_code == 405:
            _allow_what_the_path_serves(app, request, response)
        _add_headers(response, SECURITY_HEADERS)
        _add_headers(response, cors_headers(request, cors_origins()))
        _add_headers(response, {"X-Request-Id": request_id})
        log.info("request", extra={"status": response.status_code,
                                   "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
        observability.flush()
        observability.unbind("user_id", "request_id", "path", "method")
        return response


def _allow_what_the_path_serves(app: Chalice, request: Request, response: Response) -> None:
    """Chalice's own 405 (a method no view exists for, like HEAD or TRACE) lists every view of
    the path, our 405 fallbacks included; the contract's Allow is what the path serves. On the
    catch-all path there is nothing to allow: the path does not exist."""
    path = (request.context or {}).get("resourcePath") or ""
    if path == "/{proxy+}":
        response.status_code = 404
        response.body = error_body("not_found", "No such route.")
        response.headers.pop("Allow", None)
        return
    response.headers["Allow"] = ", ".join(served_methods(app, path))


def _add_headers(response: Response, extra: dict[str, str]) -> None:
    headers: dict[str, Any] = response.headers
    for name, value in extra.items():
        headers.setdefault(name, value)
