"""Request and response models shared by several blueprints."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.passwords import MAX_LENGTH, MIN_LENGTH


class Schema(BaseModel):
    """Every model of the API: its validator is built when first used, not when its module is
    imported (a cold start imports every route's models; a request uses two or three)."""

    model_config = ConfigDict(defer_build=True)


class Body(Schema):
    """Base of request bodies: unknown fields are ignored, known ones validated."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class ErrorInfo(Schema):
    code: str
    message: str
    details: Any | None = None


class ErrorBody(Schema):
    error: ErrorInfo


class Health(Schema):
    status: str


class Received(Schema):
    received: bool


# Rules JSON Schema cannot state exactly are named by a `format` (what the value must be, checked
# by the server as `domain.contact` and `domain.passwords` say): "email" (an address
# email_validator accepts without SMTPUTF8 or special-use domains), "phone" (a number valid for
# its region, in international form) and "password" (a new password: not a well-known one).
Email = Annotated[str, Field(max_length=320, json_schema_extra={"format": "email"})]
Phone = Annotated[str, Field(max_length=32, json_schema_extra={"format": "phone"},
                             description="A valid number in international (E.164) form, e.g. +6591234567")]
# A new password's bounds are checked by `domain.passwords.check_password` (in the service, in
# its place among the other checks: a wrong current password is 401 before a short new one).
NewPassword = Annotated[str, Field(max_length=1024, description=(
    f"{MIN_LENGTH} to {MAX_LENGTH} characters, and not a well-known (leaked, trivial or sequential) password"),
    json_schema_extra={"format": "password", "minLength": MIN_LENGTH, "maxLength": MAX_LENGTH})]


def limit_per_currency(amount_field: str, currency_field: str) -> list[dict[str, Any]]:
    """`if`/`then` clauses bounding an amount by the per-transfer maximum of its currency, as the
    ledger checks it (`Ledger.check_maximum`); read when the document is built, never at import."""
    from chalicelib.config import get_settings
    from chalicelib.domain.money import currency_exponent

    settings = get_settings()
    most = {c: settings.max_transfer_major * 10 ** currency_exponent(c) for c in settings.currencies}
    return [{"if": {"properties": {currency_field: {"const": c}}, "required": [currency_field]},
             "then": {"properties": {amount_field: {"maximum": most[c]}}}} for c in settings.currencies]
