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

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.domain.errors import CardDeclined, InvalidRequest, PaymentProviderError, ServiceUnavailable
from chalicelib.domain.funding import CardDetails, Intent, PayoutAccount

log = logging.getLogger(__name__)

__all__ = ["CardDeclined", "PaymentProviderError", "StripeGateway"]


def _metadata(obj: Any) -> dict[str, Any]:
    meta: Any = getattr(obj, "metadata", None)
    return dict(meta.to_dict()) if hasattr(meta, "to_dict") else dict(meta or {})


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

    @contextmanager
    def _lookup_errors(self) -> Iterator[None]:
        """A look-up that fails proves nothing about what was sent: never a "refused"."""
        try:
            with self._errors():
                yield
        except (PaymentProviderError, CardDeclined, InvalidRequest):
            raise ServiceUnavailable("The payment provider could not be asked; retry.") from None

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

    def payment_intent(self, intent_id: str) -> tuple[int, str, str]:
        """(amount, upper-case currency, status) of a PaymentIntent as Stripe has it now."""
        with self._lookup_errors():
            pi = self.client.payment_intents.retrieve(intent_id)
        return int(pi.amount), str(pi.currency).upper(), str(pi.status)

    # -- money out ------------------------------------------------------------------------------
    def open_payout_account(self, user_id: str, existing: str | None) -> PayoutAccount:
        if self._platform_payouts:
            return PayoutAccount(None, "enabled", None)
        with self._errors():
            # Manual payouts: Stripe's automatic schedule would otherwise sweep the money we
            # transfer for a withdrawal before our own payout call, and the payout we create
            # would then fail (or the money leave twice in Stripe's records).
            manual = {"payouts": {"schedule": {"interval": "manual"}}}
            if existing:
                # An account opened before payouts were manual is switched over here.
                self.client.accounts.update(existing, params={"settings": manual})
            account_id = existing or self.client.accounts.create(
                params={"type": "express", "metadata": {"user_id": user_id},
                        "capabilities": {"transfers": {"requested": True}}, "settings": manual},
                options={"idempotency_key": f"account-{user_id}"}).id
            link = self.client.account_links.create(params={
                "account": account_id, "refresh_url": self._return_url, "return_url": self._return_url,
                "type": "account_onboarding"})
        return PayoutAccount(account_id, "onboarding", link.url)

    def transfer_to_account(self, *, amount: int, currency: str, account_id: str, withdrawal_id: str,
                            metadata: dict[str, str]) -> str:
        """Move the money to the user's connected account (Connect); the Stripe transfer id.
        `transfer_group` is the withdrawal id, so `find_transfer` can tell whether a call whose
        answer was lost went through."""
        with self._errors():
            tr = self.client.transfers.create(params={
                "amount": amount, "currency": currency.lower(), "destination": account_id,
                "transfer_group": withdrawal_id, "metadata": metadata},
                options={"idempotency_key": f"{withdrawal_id}-transfer"})
        return str(tr.id)

    def find_transfer(self, withdrawal_id: str) -> str | None:
        """The transfer made for this withdrawal, if any (looked up when an outcome is unknown)."""
        with self._lookup_errors():
            found = self.client.transfers.list(params={"transfer_group": withdrawal_id, "limit": 10})
        for tr in found.data:
            if _metadata(tr).get("withdrawal_id") == withdrawal_id:
                return str(tr.id)
        return None

    def create_payout(self, *, amount: int, currency: str, account_id: str | None, withdrawal_id: str,
                      metadata: dict[str, str]) -> str:
        """Pay out to the bank: from the connected account (Connect) or, locally, from the
        platform balance. The payout id; it settles later through payout.* events."""
        with self._errors():
            if self._platform_payouts:
                po = self.client.payouts.create(params={
                    "amount": amount, "currency": "eur",
                    "metadata": {**metadata, "amount": str(amount), "currency": currency}},
                    options={"idempotency_key": withdrawal_id})
                return str(po.id)
            if not account_id:
                raise PaymentProviderError("No payout account.")
            po = self.client.payouts.create(params={"amount": amount, "currency": currency.lower(),
                                                    "metadata": metadata},
                                            options={"idempotency_key": f"{withdrawal_id}-payout",
                                                     "stripe_account": account_id})
        return str(po.id)

    def find_payout(self, account_id: str | None, withdrawal_id: str) -> str | None:
        """The payout made for this withdrawal, if any: Stripe cannot filter payouts by metadata,
        so the most recent ones of the account are searched."""
        options = {} if self._platform_payouts or not account_id else {"stripe_account": account_id}
        with self._lookup_errors():
            found = self.client.payouts.list(params={"limit": 100}, options=options)
        for po in found.data:
            if _metadata(po).get("withdrawal_id") == withdrawal_id:
                return str(po.id)
        return None

    def reverse_transfer(self, transfer_id: str, amount: int, withdrawal_id: str) -> str:
        """Take the money back from the connected account (its payout failed); idempotent."""
        with self._errors():
            rev = self.client.transfers.reversals.create(
                transfer_id, params={"amount": amount, "metadata": {"withdrawal_id": withdrawal_id}},
                options={"idempotency_key": f"{withdrawal_id}-reversal"})
        return str(rev.id)

    def find_reversal(self, transfer_id: str, withdrawal_id: str) -> str | None:
        """The reversal made for this withdrawal, if any: a repeat of the reversal more than 24 h
        after the first (Stripe has forgotten its key) would be refused as more than remains."""
        with self._lookup_errors():
            found = self.client.transfers.reversals.list(transfer_id, params={"limit": 100})
        for rev in found.data:
            if _metadata(rev).get("withdrawal_id") == withdrawal_id:
                return str(rev.id)
        return None

    def refunds_of(self, charge_id: str) -> list[int] | None:
        """Every refund of a charge, failed ones included: the one exact count of what refunds
        took. Stripe's docs do not say whether a charge's `amount_refunded` drops when a refund
        fails, and newer API versions no longer embed the list in the charge."""
        import stripe

        try:
            found = self.client.refunds.list(params={"charge": charge_id, "limit": 100})
            return [int(r.amount) for r in found.auto_paging_iter()]
        except stripe.InvalidRequestError:
            log.warning("refunds of a charge Stripe will not list")
            return None
        except stripe.StripeError as exc:
            raise ServiceUnavailable("The payment provider could not be asked; retry.") from exc

    def payout_amount(self, payout: dict[str, Any]) -> tuple[int, str]:
        """(amount, upper-case currency) that a payout event's object paid. Locally the payout is
        made in EUR from the platform (the stand-in's limit), with our figures in its metadata."""
        if self._platform_payouts:
            meta = payout.get("metadata") or {}
            try:
                return int(meta.get("amount", -1)), str(meta.get("currency", "")).upper()
            except (TypeError, ValueError):
                return -1, ""
        amount = payout.get("amount")
        return (amount if isinstance(amount, int) else -1), str(payout.get("currency", "")).upper()
