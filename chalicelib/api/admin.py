"""The admin function: the operators' commands behind an API Gateway REST API whose only
authorization is AWS_IAM (deploy/template.py, `admin_api`; locally devstack/admin_api.py).

API Gateway has verified the request's Signature V4 and that the signer may call
`execute-api:Invoke` on this API before this function runs; what it verified is in the event's
`requestContext.identity`. That ARN, and nothing the body says, is who runs the command: it is
the audit record's `actor`, written in the transaction of the change. An event without it
(never sent by API Gateway under AWS_IAM) is refused before anything is read.

One route: `POST /commands/{name}` with the command's arguments as a JSON object
(domain/operator_commands.py). The answer is what `python -m ops` prints: 200 with the command's
JSON, or the API's error shape and status.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable
from typing import Any

from chalicelib.api.errors import error_body, error_response
from chalicelib.domain.errors import DomainError, InvalidRequest, PayloadTooLarge
from chalicelib.domain.operator_commands import parse
from chalicelib.services.operations import Operations
from chalicelib.services.operator_commands import execute

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


def _response(status: int, body: Any) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
            "body": json.dumps(body, sort_keys=True, default=str)}


def verified_caller(event: dict[str, Any]) -> str | None:
    """The caller's IAM ARN as API Gateway verified it (an IAM user's ARN, or an assumed role's
    session ARN), or None."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    arn = identity.get("userArn")
    return arn if isinstance(arn, str) and arn.startswith("arn:") else None


def _body(event: dict[str, Any]) -> Any:
    raw = event.get("body") or "{}"
    try:
        data = base64.b64decode(raw, validate=True) if event.get("isBase64Encoded") else raw.encode()
    except (binascii.Error, AttributeError):
        raise InvalidRequest("The body must be a JSON object.") from None
    if len(data) > MAX_BODY:
        raise PayloadTooLarge()
    try:
        return json.loads(data)
    except ValueError:
        raise InvalidRequest("The body must be a JSON object.") from None


def handle(event: dict[str, Any], operations: Callable[[str], Operations]) -> dict[str, Any]:
    """Answer one admin API request; `operations(actor)` builds the use cases acting as `actor`."""
    actor = verified_caller(event)
    if actor is None:  # API Gateway's own shape for a request it did not authenticate
        return _response(403, {"message": "Forbidden"})
    name = (event.get("pathParameters") or {}).get("name") or ""
    try:
        if event.get("httpMethod") != "POST":
            raise InvalidRequest("Commands are sent with POST.")
        command = parse(name, _body(event))
        result = execute(operations(actor), command)
    except DomainError as err:
        answer = error_response(err)  # the API's own code -> status table and error shape
        log.info("admin command answered", extra={"command": name, "status": answer.status_code})
        return _response(answer.status_code, answer.body)
    except Exception:  # an unexpected failure is answered, never leaked
        log.exception("admin command failed")
        return _response(500, error_body("internal_error", DomainError.default_message))
    log.info("admin command answered", extra={"command": name, "status": 200})
    return _response(200, result)
