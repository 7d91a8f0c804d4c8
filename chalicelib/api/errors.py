"""The one place where errors become HTTP responses.

Domain errors carry a contract code; this module owns the code -> status table and the body shape
`{"error": {"code", "message", "details"?}}`. Chalice's own error responses (its 405, 415 and
500 bodies `{"Code", "Message"}`) are translated here too, so no client ever sees another shape.
"""
from __future__ import annotations

import logging
from typing import Any

from chalice import Response

from chalicelib.domain.errors import DomainError, TooManyRequests

log = logging.getLogger(__name__)

STATUS_BY_CODE: dict[str, int] = {
    "invalid_request": 400,
    "idempotency_key_required": 400,
    "invalid_signature": 400,
    "unauthorized": 401,
    "card_declined": 402,
    "invalid_credentials": 401,
    "mfa_required": 403,
    "mfa_invalid": 403,
    "mfa_not_enrolled": 403,
    "account_frozen": 403,
    "verification_required": 403,
    "reauth_required": 403,
    "reauth_invalid": 403,
    "not_found": 404,
    "recipient_not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "email_taken": 409,
    "phone_taken": 409,
    "idempotency_key_reused": 409,
    "mfa_already_enabled": 409,
    "payout_account_required": 409,
    "already_verified": 409,
    "transfer_not_cancelable": 409,
    "request_not_pending": 409,
    "quote_expired": 409,
    "quote_used": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "insufficient_funds": 422,
    "currency_mismatch": 422,
    "same_wallet": 422,
    "same_currency": 422,
    "limit_exceeded": 422,
    "device_inactive": 422,
    "invalid_code": 422,
    "code_expired": 422,
    "too_many_requests": 429,
    "internal_error": 500,
    "payment_provider_error": 502,
    "service_unavailable": 503,
    "rates_unavailable": 503,
}

# Chalice builds these itself (wrong method, media type, unhandled exception, binary Accept).
_CHALICE_CODES: dict[str, str] = {
    "MethodNotAllowedError": "method_not_allowed",
    "UnsupportedMediaType": "unsupported_media_type",
    "BadRequest": "invalid_request",
    "BadRequestError": "invalid_request",
    "NotFoundError": "not_found",
    "UnauthorizedError": "unauthorized",
    "ForbiddenError": "unauthorized",
    "TooManyRequestsError": "too_many_requests",
    "InternalServerError": "internal_error",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(err: DomainError, headers: dict[str, str] | None = None) -> Response:
    status = STATUS_BY_CODE.get(err.code)
    if status is None:
        # A code without a status is a programming error: never guess a 4xx for it.
        log.error("error code %r has no HTTP status", err.code)
        status, body = 500, error_body("internal_error", DomainError.default_message)
    else:
        body = error_body(err.code, err.message, err.details)
    out: dict[str, str | list[str]] = dict(headers or {})
    if isinstance(err, TooManyRequests):
        out["Retry-After"] = str(err.retry_after)
    return Response(body=body, status_code=status, headers=out)


def internal_error_response() -> Response:
    return Response(body=error_body("internal_error", DomainError.default_message), status_code=500)


def translate_chalice_error(response: Response) -> Response:
    """Rewrite a response Chalice produced on its own into the contract's error shape."""
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict) or "Code" not in body:
        return response
    code = _CHALICE_CODES.get(str(body.get("Code")), "internal_error")
    status = STATUS_BY_CODE[code]
    message = DomainError.default_message if status >= 500 else str(body.get("Message", ""))
    # Keep Allow (405) but drop Content-Type: a debug traceback would have set text/plain.
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
    return Response(body=error_body(code, message), status_code=status, headers=headers)
