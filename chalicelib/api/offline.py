"""Offline payments: devices, allowances (held and certified, with 2FA), redemption of vouchers."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from chalice import Blueprint
from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from chalicelib.api.identity import STEP_UP_ERRORS, Jwks, Otp, StepUpIn
from chalicelib.api.routing import Call, Reply, replayable, route
from chalicelib.api.schemas import Body, Schema
from chalicelib.api.wallets import Amount, PageQuery, absent, not_null
from chalicelib.container import get_container
from chalicelib.domain.offline import DEFAULT_EXPIRES_IN, MAX_EXPIRES_IN, MAX_VOUCHERS_PER_CALL, MIN_EXPIRES_IN
from chalicelib.domain.offline_codes import (
    MAX_JWS,
    MAX_PAYMENT_CODE,
    PAYMENT_CODE_PATTERN,
    PAYMENT_PREFIX,
    BadCode,
    decode_payment,
)

if TYPE_CHECKING:  # the use cases' types; their modules wait for the first request (cold start)
    from chalicelib.domain.commands import OpenAllowance, RedeemVouchers
    from chalicelib.domain.results import AllowanceView, DeviceView

bp = Blueprint(__name__)

Id = Annotated[str, Field(min_length=1, max_length=100)]
Jws = Annotated[str, Field(min_length=1, max_length=MAX_JWS, description="A compact JWS")]


class DeviceIn(StepUpIn):
    public_key: Annotated[str, Field(min_length=1, max_length=64,
                                     description="base64url (no padding) of the raw 32-byte Ed25519 public key")]
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class DeviceOut(Schema):
    device_id: str
    name: str | None
    public_key: str
    status: Literal["active", "revoked", "frozen"]
    created_at: str


class DeviceList(Schema):
    items: list[DeviceOut]


class AllowanceIn(Body):
    device_id: Id
    wallet_id: Id
    amount: Amount
    expires_in: Annotated[int, Field(strict=True, ge=MIN_EXPIRES_IN, le=MAX_EXPIRES_IN,
                                     description=f"Seconds (default {DEFAULT_EXPIRES_IN}, 72 h)")] | None = None
    otp: Otp | None = None

    def command(self) -> OpenAllowance:
        from chalicelib.domain.commands import OpenAllowance

        return OpenAllowance(self.device_id, self.wallet_id, self.amount, self.expires_in)


class AllowanceOut(Schema):
    allowance_id: str
    device_id: str
    wallet_id: str
    amount: int
    currency: str
    spent: int
    remaining: int
    status: Literal["active", "expired", "closed"]
    expires_at: str
    certificate: str = Field(description="Compact JWS (typ offline-allowance+jwt) signed by an offline key")


class AllowancePage(Schema):
    items: list[AllowanceOut]
    next_cursor: str | None


class RedeemIn(Body):
    # The certificate and its vouchers, or the payment code (the QR text) that packs them; never both.
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["certificate", "vouchers"], "not": {"required": ["payment_code"]}},
        {"required": ["payment_code"],
         "not": {"anyOf": [{"required": ["certificate"]}, {"required": ["vouchers"]}]}}]})

    certificate: Jws | SkipJsonSchema[None] = absent()
    vouchers: Annotated[list[Jws], Field(min_length=1, max_length=MAX_VOUCHERS_PER_CALL)] | SkipJsonSchema[None] = (
        absent())
    payment_code: Annotated[str, Field(
        min_length=1, max_length=MAX_PAYMENT_CODE, pattern=PAYMENT_CODE_PATTERN, description=(
            f"Instead of certificate and vouchers: the payment code a payer's screen shows ({PAYMENT_PREFIX}..., "
            "docs/offline-payments.md)"))] | SkipJsonSchema[None] = absent()

    _no_nulls = field_validator("certificate", "vouchers", "payment_code", mode="before")(not_null)

    @field_validator("payment_code")
    @classmethod
    def _readable(cls, code: str | None) -> str | None:
        if code is not None:
            try:
                decode_payment(code)
            except BadCode as err:
                raise ValueError(str(err)) from None
        return code

    @model_validator(mode="after")
    def _one_form(self) -> RedeemIn:
        if self.payment_code is not None and (self.certificate is not None or self.vouchers is not None):
            raise ValueError("give certificate and vouchers, or payment_code, not both")
        if self.payment_code is None and (self.certificate is None or self.vouchers is None):
            raise ValueError("certificate and vouchers are required (or payment_code)")
        return self

    def redemption(self) -> RedeemVouchers:
        """What is redeemed, in one form whichever was sent (so a retry in the other form of the
        same vouchers replays the first answer)."""
        from chalicelib.domain.commands import RedeemVouchers

        if self.payment_code is not None:
            payment = decode_payment(self.payment_code)
            return RedeemVouchers(payment.certificate, tuple(payment.vouchers))
        if self.certificate is None or self.vouchers is None:  # _one_form's rule
            raise ValueError("certificate and vouchers are required (or payment_code)")
        return RedeemVouchers(self.certificate, tuple(self.vouchers))


class RedeemResult(Schema):
    seq: int | None = Field(description="The voucher's seq (null if it could not be read at all)")
    status: Literal["credited", "already_redeemed", "rejected"]
    code: Literal["invalid_signature", "expired", "over_allowance", "allowance_closed", "currency_mismatch",
                  "wrong_payee", "double_spend", "recipient_not_found"] | None = None
    transfer_id: str | None = None


class RedeemOut(Schema):
    results: list[RedeemResult]


@route(bp, "/.well-known/offline-keys.json", "GET", summary="Public keys that sign offline allowance certificates",
       public=True, response=Jwks, tags=("offline",))
def offline_keys(call: Call) -> dict[str, Any]:
    return dict(get_container().offline_keys.jwks())


@route(bp, "/offline/devices", "POST", summary="Register a device's Ed25519 key for offline payments",
       body=DeviceIn, response=DeviceOut, status=201, errors=("limit_exceeded", *STEP_UP_ERRORS), tags=("offline",))
def register_device(call: Call) -> DeviceView:
    c = get_container()
    # A device signs offline payments from the account's allowances: a session alone must not add one.
    c.stepup.require(call.principal, call.body.password, call.body.otp)
    return c.offline.register_device(call.user_id, call.body.public_key, call.body.name)


@route(bp, "/offline/devices", "GET", summary="The caller's devices", response=DeviceList, tags=("offline",))
def list_devices(call: Call) -> dict[str, list[DeviceView]]:
    return {"items": get_container().offline.devices(call.user_id)}


@route(bp, "/offline/devices/{device_id}", "DELETE", summary="Revoke a device (no new allowances)", status=204,
       errors=("not_found",), tags=("offline",))
def revoke_device(call: Call, device_id: str) -> None:
    get_container().offline.revoke_device(call.user_id, device_id)


@route(bp, "/offline/allowances", "POST", summary="Hold money for a device to spend offline (sensitive: needs otp)",
       body=AllowanceIn, response=AllowanceOut, status=201, headers=("Idempotency-Key",),
       errors=("idempotency_key_required", "idempotency_key_reused", "mfa_required", "mfa_invalid",
               "mfa_not_enrolled", "not_found", "device_inactive", "insufficient_funds", "account_frozen",
               "limit_exceeded"),
       tags=("offline",))
def create_allowance(call: Call) -> Reply:
    return replayable(get_container().offline.create_allowance(call.user_id, call.headers.get("idempotency-key"),
                                                               call.body.command(), call.body.otp,
                                                               session_id=call.principal.session_id),
                      "OfflineAllowanceCreated")


@route(bp, "/offline/allowances", "GET", summary="The caller's allowances, newest first", query=PageQuery,
       response=AllowancePage, tags=("offline",))
def list_allowances(call: Call) -> dict[str, Any]:
    items, cursor = get_container().offline.allowances(call.user_id, call.query.limit, call.query.cursor)
    return {"items": items, "next_cursor": cursor}


@route(bp, "/offline/allowances/{allowance_id}", "GET", summary="An allowance", response=AllowanceOut,
       errors=("not_found",), tags=("offline",))
def get_allowance(call: Call, allowance_id: str) -> AllowanceView:
    return get_container().offline.allowance(call.user_id, allowance_id)


@route(bp, "/offline/redeem", "POST",
       summary="Redeem vouchers paid to the caller (or the payment code that carries them), each exactly once",
       body=RedeemIn, response=RedeemOut, headers=("Idempotency-Key",),
       errors=("idempotency_key_required", "idempotency_key_reused"), tags=("offline",))
def redeem(call: Call) -> Reply:
    return replayable(get_container().offline.redeem(call.user_id, call.headers.get("idempotency-key"),
                                                     call.body.redemption()), "OfflineRedeemed")
