"""Payment requests: ask someone for money, and pay, decline or cancel what was asked."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from chalice import Blueprint
from pydantic import ConfigDict, Field, model_validator

from chalicelib.api.routing import Call, Reply, replayable, route
from chalicelib.api.schemas import Body, Email, Phone, Schema, limit_per_currency
from chalicelib.api.wallets import Amount, Currency, PageQuery, TransferOut, address, one_address
from chalicelib.container import get_container
from chalicelib.domain.payment_request import DEFAULT_EXPIRES_IN, MAX_EXPIRES_IN, MIN_EXPIRES_IN

if TYPE_CHECKING:  # the use cases' types; their modules wait for the first request (cold start)
    from chalicelib.domain.commands import RequestPayment
    from chalicelib.domain.results import PaymentRequestView

bp = Blueprint(__name__)

Status = Literal["pending", "paid", "declined", "canceled", "expired"]


class Payer(Body):
    # Exactly one of email, phone (not null).
    model_config = ConfigDict(json_schema_extra=lambda schema: schema.update(oneOf=one_address("email", "phone")))

    email: Email | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def exactly_one(self) -> Payer:
        if (self.email is None) == (self.phone is None):
            raise ValueError("give exactly one of email, phone")
        return self


def _amount_limit(schema: dict[str, Any]) -> None:
    schema["allOf"] = limit_per_currency("amount", "currency")


class PaymentRequestIn(Body):
    model_config = ConfigDict(json_schema_extra=_amount_limit)

    payer: Payer
    amount: Amount
    currency: Currency
    memo: Annotated[str, Field(max_length=280)] | None = None
    expires_in: Annotated[int, Field(strict=True, ge=MIN_EXPIRES_IN, le=MAX_EXPIRES_IN,
                                     description=f"Seconds (default {DEFAULT_EXPIRES_IN}, a week)")] | None = None

    def command(self) -> RequestPayment:
        from chalicelib.domain.commands import RequestPayment

        payer = address(self.payer.email, self.payer.phone)
        if payer is None:  # Payer's validator: exactly one
            raise ValueError("give exactly one of email, phone")
        return RequestPayment(payer, self.amount, self.currency, self.memo, self.expires_in)


class Party(Schema):
    user_id: str
    display_name: str | None = Field(description="First name and last initial, or null; never a contact")


class PaymentRequestOut(Schema):
    request_id: str
    status: Status
    requester: Party
    payer: Party
    amount: int
    currency: str
    memo: str | None
    transfer_id: str | None = Field(description="The payment, once paid")
    created_at: str
    expires_at: str


class PaymentRequestPage(Schema):
    items: list[PaymentRequestOut]
    next_cursor: str | None


class PaymentRequestQuery(PageQuery):
    role: Literal["incoming", "outgoing"] | None = Field(
        default=None, description="incoming: asked of you; outgoing: asked by you; both when left out")
    status: Status | None = None


class PayIn(Body):
    wallet_id: Annotated[str, Field(min_length=1, max_length=100)]


class PaidOut(Schema):
    request: PaymentRequestOut
    transfer: TransferOut


@route(bp, "/payment-requests", "POST", summary="Ask someone (a verified e-mail or phone) for money",
       body=PaymentRequestIn, response=PaymentRequestOut, status=201, headers=("Idempotency-Key?",),
       errors=("idempotency_key_required", "idempotency_key_reused", "recipient_not_found", "same_wallet",
               "too_many_requests"), tags=("payment requests",))
def create_request(call: Call) -> Reply:
    outcome = get_container().payment_requests.create(call.user_id, call.headers.get("idempotency-key"),
                                                      call.body.command())
    return replayable(outcome, "PaymentRequestCreated")


@route(bp, "/payment-requests", "GET", summary="Requests asked of you or by you, newest first",
       query=PaymentRequestQuery, response=PaymentRequestPage, tags=("payment requests",))
def list_requests(call: Call) -> dict:
    q = call.query
    items, cursor = get_container().payment_requests.list(call.user_id, q.role, q.status, q.limit, q.cursor)
    return {"items": items, "next_cursor": cursor}


@route(bp, "/payment-requests/{request_id}", "GET", summary="A request, for its requester or payer",
       response=PaymentRequestOut, errors=("not_found",), tags=("payment requests",))
def get_request(call: Call, request_id: str) -> PaymentRequestView:
    return get_container().payment_requests.get(call.user_id, request_id)


@route(bp, "/payment-requests/{request_id}/pay", "POST", summary="Pay a request asked of you",
       body=PayIn, response=PaidOut, status=201, headers=("Idempotency-Key",),
       errors=("idempotency_key_required", "idempotency_key_reused", "not_found", "request_not_pending",
               "currency_mismatch", "insufficient_funds", "account_frozen", "limit_exceeded"),
       tags=("payment requests",))
def pay_request(call: Call, request_id: str) -> Reply:
    outcome = get_container().payment_requests.pay(call.user_id, call.headers.get("idempotency-key"), request_id,
                                                   call.body.wallet_id)
    return replayable(outcome, "PaymentRequestPaid")


@route(bp, "/payment-requests/{request_id}/decline", "POST", summary="Decline a request asked of you",
       response=PaymentRequestOut, errors=("not_found", "request_not_pending"), tags=("payment requests",))
def decline_request(call: Call, request_id: str) -> PaymentRequestView:
    return get_container().payment_requests.decline(call.user_id, request_id)


@route(bp, "/payment-requests/{request_id}/cancel", "POST", summary="Cancel a request you made",
       response=PaymentRequestOut, errors=("not_found", "request_not_pending"), tags=("payment requests",))
def cancel_request(call: Call, request_id: str) -> PaymentRequestView:
    return get_container().payment_requests.cancel(call.user_id, request_id)
