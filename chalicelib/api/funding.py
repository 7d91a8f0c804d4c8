"""Funding routes: payment methods, top-ups, the payout account and withdrawals (Stripe)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.identity import STEP_UP_ERRORS, Otp, StepUpIn
from chalicelib.api.routing import Call, Reply, replayable, route
from chalicelib.api.schemas import Body, Schema
from chalicelib.api.wallets import Amount
from chalicelib.container import get_container

if TYPE_CHECKING:  # the use cases' types; their modules wait for the first request (cold start)
    from chalicelib.domain.commands import AddMoney, WithdrawMoney
    from chalicelib.domain.results import (
        PaymentMethodView,
        PayoutAccountView,
        SetupIntentView,
        TopUpView,
        WithdrawalView,
    )

bp = Blueprint(__name__)

Id = Annotated[str, Field(min_length=1, max_length=100)]


class SetupIntentOut(Schema):
    setup_intent_id: str
    client_secret: str


class AttachIn(Body):
    stripe_payment_method_id: Annotated[str, Field(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9_]+$")]


class PaymentMethodOut(Schema):
    payment_method_id: str
    type: str
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    created_at: str


class PaymentMethodList(Schema):
    items: list[PaymentMethodOut]


class TopUpIn(Body):
    wallet_id: Id
    amount: Amount
    payment_method_id: Id

    def command(self) -> AddMoney:
        from chalicelib.domain.commands import AddMoney

        return AddMoney(self.wallet_id, self.amount, self.payment_method_id)


class TopUpOut(Schema):
    topup_id: str
    status: Literal["pending", "requires_action", "succeeded", "failed"]
    wallet_id: str
    amount: int
    currency: str
    provider_reference: str | None
    client_secret: str | None = None
    created_at: str


class PayoutAccountOut(Schema):
    status: str
    onboarding_url: str | None = None


class WithdrawalIn(Body):
    wallet_id: Id
    amount: Amount
    otp: Otp | None = None

    def command(self) -> WithdrawMoney:
        from chalicelib.domain.commands import WithdrawMoney

        return WithdrawMoney(self.wallet_id, self.amount)


class WithdrawalOut(Schema):
    withdrawal_id: str
    status: Literal["pending", "paid", "failed", "needs_attention"]
    wallet_id: str
    amount: int
    currency: str
    provider_reference: str | None
    created_at: str


@route(bp, "/payment-methods/setup-intents", "POST", summary="A SetupIntent for collecting a card client-side",
       response=SetupIntentOut, status=201, errors=("payment_provider_error",), tags=("funding",))
def setup_intent(call: Call) -> SetupIntentView:
    return get_container().funding.setup_intent(call.user_id)


@route(bp, "/payment-methods", "POST", summary="Attach a Stripe PaymentMethod (card numbers never reach us)",
       body=AttachIn, response=PaymentMethodOut, status=201, errors=("card_declined",), tags=("funding",))
def attach(call: Call) -> PaymentMethodView:
    return get_container().funding.add_payment_method(call.user_id, call.body.stripe_payment_method_id)


@route(bp, "/payment-methods", "GET", summary="The caller's payment methods", response=PaymentMethodList,
       tags=("funding",))
def list_payment_methods(call: Call) -> dict[str, list[PaymentMethodView]]:
    return {"items": get_container().funding.payment_methods(call.user_id)}


@route(bp, "/payment-methods/{payment_method_id}", "DELETE", summary="Detach a payment method", status=204,
       errors=("not_found",), tags=("funding",))
def detach(call: Call, payment_method_id: str) -> None:
    get_container().funding.remove_payment_method(call.user_id, payment_method_id)


@route(bp, "/topups", "POST", summary="Load money from a card; credited when Stripe confirms", body=TopUpIn,
       response=TopUpOut, status=202, headers=("Idempotency-Key",),
       errors=("idempotency_key_required", "idempotency_key_reused", "not_found", "card_declined"),
       tags=("funding",))
def top_up(call: Call) -> Reply:
    return replayable(get_container().funding.top_up(call.user_id, call.headers.get("idempotency-key"),
                                                  call.body.command()), "TopUpRequested")


@route(bp, "/topups/{topup_id}", "GET", summary="A top-up", response=TopUpOut, errors=("not_found",),
       tags=("funding",))
def get_topup(call: Call, topup_id: str) -> TopUpView:
    return get_container().funding.get_topup(call.user_id, topup_id)


@route(bp, "/payout-account", "POST", summary="Open or change the caller's payout (Stripe Connect) account "
       "(step-up: password, or otp with 2FA on)", body=StepUpIn, response=PayoutAccountOut, status=201,
       errors=STEP_UP_ERRORS, tags=("funding",))
def open_payout_account(call: Call) -> PayoutAccountView:
    c = get_container()
    # Where withdrawals go: a thief holding only a session must not choose it.
    c.stepup.require(call.principal, call.body.password, call.body.otp)
    return c.funding.open_payout_account(call.user_id)


@route(bp, "/payout-account", "GET", summary="The caller's payout account", response=PayoutAccountOut,
       errors=("not_found",), tags=("funding",))
def payout_account(call: Call) -> PayoutAccountView:
    return get_container().funding.payout_account(call.user_id)


@route(bp, "/withdrawals", "POST", summary="Withdraw to the bank (sensitive: needs otp)", body=WithdrawalIn,
       response=WithdrawalOut, status=202, headers=("Idempotency-Key",),
       errors=("idempotency_key_required", "idempotency_key_reused", "mfa_required", "mfa_invalid",
               "mfa_not_enrolled", "not_found", "insufficient_funds", "account_frozen", "limit_exceeded",
               "payout_account_required"),
       tags=("funding",))
def withdraw(call: Call) -> Reply:
    return replayable(get_container().funding.withdraw(call.user_id, call.headers.get("idempotency-key"),
                                                   call.body.command(), call.body.otp,
                                                   session_id=call.principal.session_id),
                      "WithdrawalRequested")


@route(bp, "/withdrawals/{withdrawal_id}", "GET", summary="A withdrawal", response=WithdrawalOut,
       errors=("not_found",), tags=("funding",))
def get_withdrawal(call: Call, withdrawal_id: str) -> WithdrawalView:
    return get_container().funding.get_withdrawal(call.user_id, withdrawal_id)
