"""The Stripe gateway: every call the product makes to Stripe, behind one small class.

stripe-python's `StripeClient` is imported on first use (cold start). Every mutating call passes
an idempotency key derived from our own record, so a retry after a timeout never charges or
pays out twice (real Stripe honours it; the local stand-in ignores it, which the callers
tolerate). Stripe's errors become domain errors: a declined card is a 402 with its code, an
unreachable Stripe a 503, never a 500.

Payouts: in AWS the money goes to the user's Connect account (transfer + payout on that
account). The local stand-in has no Connect, so the `local` stage pays out from the platform
balance (`platform_payouts=True`); localstripe also only knows EUR payouts, so locally the payout
is created in EUR with our real currency and amount in its metadata (events are matched to our
withdrawal record by id, and our record's amount is what moves).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import DomainError, InvalidRequest, ServiceUnavailable


class CardDeclined(DomainError):
    """The card was declined by the issuer (Stripe's decline code in `details`)."""

    code = "card_declined"
    default_message = "The card was declined."


class PaymentProviderError(DomainError):
    """Stripe refused the request for a reason that is not the caller's input."""

    code = "payment_provider_error"
    default_message = "The payment provider refused the request."


@dataclass(frozen=True)
class CardDetails:
    stripe_id: str
    type: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True)
class Intent:
    id: str
    status: str
    client_secret: str | None


@dataclass(frozen=True)
class PayoutAccount:
    account_id: str | None
    status: str  # enabled | onboarding
    onboarding_url: str | None


class StripeGateway:
    def __init__(self, api_key: str, api_base: str | None = None, *, platform_payouts: bool = False,
                 onboarding_return_url: str = "https://example.invalid/payout-account",
                 client_factory: Callable[[], Any] | None = None) -> None:
        self._api_key, self._api_base = api_key, api_base
        self._platform_payouts = platform_payouts
        self._return_url = onboarding_return_url
        self._factory = client_factory
        self._client: Any = None

    @property
    def platform_payouts(self) -> bool:
        return self._platform_payouts

    @property
    def client(self) -> Any:
        if self._client is None:
            if self._factory is not None:
                self._client = self._factory()
            else:
                import stripe

                kwargs: dict[str, Any] = {"max_network_retries": 2}
                if self._api_base:
                    kwargs["base_addresses"] = {"api": self._api_base}
                self._client = stripe.StripeClient(self._api_key, **kwargs).v1
        return self._client

    @contextmanager
    def _errors(self, field: str | None = None) -> Iterator[None]:
        import stripe

        try:
            yield
        except stripe.CardError as exc:
            raise CardDeclined(details={"decline_code": exc.code}) from None
        except stripe.InvalidRequestError as exc:
            # Our ids are checked before we call Stripe, so this is usually a Stripe-side id
            # the client gave us (a payment method) that does not exist or cannot be used.
            if field:
                raise InvalidRequest("Stripe refused this value.", details=[
                    {"field": field, "message": exc.user_message or "not usable"}]) from None
            raise PaymentProviderError() from None
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.IdempotencyError, stripe.APIError) as exc:
            # The outcome is unknown (timeout, 5xx, the same key still in flight): the caller
            # must keep its state and retry with the same idempotency key, never assume failure.
            raise ServiceUnavailable("The payment provider could not be reached; retry.") from exc
        except stripe.StripeError as exc:
            raise PaymentProviderError() from exc

    # -- customers and payment methods ----------------------------------------------------------
    def create_customer(self, user_id: str) -> str:
        with self._errors():
            customer = self.client.customers.create(params={"metadata": {"user_id": user_id}},
                                                    options={"idempotency_key": f"customer-{user_id}"})
        return str(customer.id)

    def create_setup_intent(self, customer_id: str, key: str) -> Intent:
        with self._errors():
            si = self.client.setup_intents.create(
                params={"customer": customer_id, "payment_method_types": ["card"]},
                options={"idempotency_key": key})
        return Intent(si.id, si.status, si.client_secret)

    def attach_payment_method(self, stripe_pm_id: str, customer_id: str) -> CardDetails:
        with self._errors(field="stripe_payment_method_id"):
            pm = self.client.payment_methods.attach(stripe_pm_id, params={"customer": customer_id})
        card = getattr(pm, "card", None)
        return CardDetails(stripe_id=pm.id, type=pm.type, brand=getattr(card, "brand", None),
                           last4=getattr(card, "last4", None), exp_month=getattr(card, "exp_month", None),
                           exp_year=getattr(card, "exp_year", None))

    def detach_payment_method(self, stripe_pm_id: str) -> None:
        import stripe

        try:
            with self._errors():
                self.client.payment_methods.detach(stripe_pm_id)
        except PaymentProviderError:
            pass  # already detached at Stripe: our side is what the user sees
        except stripe.StripeError:
            raise

    # -- money in -------------------------------------------------------------------------------
    def charge(self, *, amount: int, currency: str, customer_id: str, stripe_pm_id: str,
               metadata: dict[str, str], key: str) -> Intent:
        """Create and confirm a PaymentIntent; requires_action means 3-D Secure."""
        with self._errors(field="payment_method_id"):
            pi = self.client.payment_intents.create(params={
                "amount": amount, "currency": currency.lower(), "customer": customer_id,
                "payment_method": stripe_pm_id, "confirm": True, "payment_method_types": ["card"],
                "metadata": metadata}, options={"idempotency_key": key})
        return Intent(pi.id, pi.status, pi.client_secret)

    # -- money out ------------------------------------------------------------------------------
    def open_payout_account(self, user_id: str, existing: str | None) -> PayoutAccount:
        if self._platform_payouts:
            return PayoutAccount(None, "enabled", None)
        with self._errors():
            account_id = existing or self.client.accounts.create(
                params={"type": "express", "metadata": {"user_id": user_id},
                        "capabilities": {"transfers": {"requested": True}}},
                options={"idempotency_key": f"account-{user_id}"}).id
            link = self.client.account_links.create(params={
                "account": account_id, "refresh_url": self._return_url, "return_url": self._return_url,
                "type": "account_onboarding"})
        return PayoutAccount(account_id, "onboarding", link.url)

    def payout(self, *, amount: int, currency: str, account_id: str | None, metadata: dict[str, str],
               key: str) -> str:
        """Send money to the user's bank; the payout id. Settles later by payout.* events."""
        with self._errors():
            if self._platform_payouts:
                po = self.client.payouts.create(params={
                    "amount": amount, "currency": "eur",
                    "metadata": {**metadata, "amount": str(amount), "currency": currency}},
                    options={"idempotency_key": key})
                return str(po.id)
            if not account_id:
                raise PaymentProviderError("No payout account.")
            self.client.transfers.create(params={"amount": amount, "currency": currency.lower(),
                                                 "destination": account_id, "metadata": metadata},
                                         options={"idempotency_key": f"{key}-transfer"})
        # The money is in the connected account now: from here on a refusal is not a "nothing
        # happened", so it must never give the hold back (the caller keeps it and retries).
        try:
            with self._errors():
                po = self.client.payouts.create(params={"amount": amount, "currency": currency.lower(),
                                                        "metadata": metadata},
                                                options={"idempotency_key": f"{key}-payout",
                                                         "stripe_account": account_id})
        except PaymentProviderError:
            raise ServiceUnavailable("The payout could not be created yet; it will be retried.") from None
        return str(po.id)
