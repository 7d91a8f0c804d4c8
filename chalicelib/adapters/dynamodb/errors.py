"""What a PynamoDB error says DynamoDB answered."""
from __future__ import annotations


def response_code(exc: BaseException) -> str | None:
    """DynamoDB's error code under a PynamoDB error (None when there is no answer).

    PynamoDB's own `cause_response_code` reads `getattr(cause, "response", {})`, but a botocore
    timeout carries `response = None`: the property then raises AttributeError, and a timed-out
    write became a crash instead of the storage error it is (found by the simulator's DynamoDB
    mode)."""
    response = getattr(getattr(exc, "cause", None), "response", None) or {}
    code = response.get("Error", {}).get("Code")
    return str(code) if code is not None else None


def condition_failed(exc: BaseException) -> bool:
    """A conditional write refused because its condition did not hold."""
    return response_code(exc) == "ConditionalCheckFailedException"
