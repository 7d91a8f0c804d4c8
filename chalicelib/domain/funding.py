"""Funding records as the services see them: adapters turn them into rows and back."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FundingProfile:
    """What funding needs of a user: the Stripe customer and the payout account."""

    user_id: str
    stripe_customer_id: str | None = None
    payout_account_id: str | None = None
    payout_status: str | None = None
    status: str = "active"  # the account's: a frozen one gets no new payout


@dataclass(frozen=True)
class PaymentMethod:
    """A card attached through Stripe: its ids and its encrypted display details."""

    payment_method_id: str
    user_id: str
    stripe_pm_id: str
    type: str
    details_ct: str  # brand, last4, expiry: encrypted, bound to the user
    created_at: str
    status: str = "active"  # active | detached


@dataclass(frozen=True)
class TopUp:
    """A top-up: claimed (`creating`) before Stripe is called, so it holds the idempotency key."""

    topup_id: str
    user_id: str
    wallet_id: str
    payment_method_id: str
    amount: int
    currency: str
    request_hash: str
    created_at: str
    status: str = "creating"  # creating | pending | requires_action | succeeded | failed
    payment_intent_id: str | None = None
    client_secret_ct: str | None = None
    response_ct: str | None = None  # the first answer, sealed
    refunded: int = 0
    disputed: int = 0
    refund_returned: int = 0
    shortfall: str | None = None  # refund | dispute: money already spent, needs a person


@dataclass(frozen=True)
class Withdrawal:
    withdrawal_id: str
    user_id: str
    wallet_id: str
    amount: int
    currency: str
    status: str  # pending | paid | failed | needs_attention
    request_hash: str
    created_at: str
    transfer_attempted_at: float | None = None
    stripe_transfer_id: str | None = None
    payout_attempted_at: float | None = None
    payout_id: str | None = None
    reversal_id: str | None = None
    # Set when the money was given back instead (a frozen account): from then on no Stripe call
    # that sends it out may be claimed, so a give-back and a payout never both happen.
    payout_barred_at: float | None = None
    attention_reason: str | None = None
    resolution: str | None = None  # paid | failed: what a person decided (ops), claimed before acting
    response_ct: str | None = None


# -- what the payment provider answers ------------------------------------------------------------
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
