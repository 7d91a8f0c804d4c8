"""Funding records as the services create them: adapters turn them into rows."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NewPaymentMethod:
    """A card attached through Stripe: its ids and its encrypted display details."""

    payment_method_id: str
    user_id: str
    stripe_pm_id: str
    type: str
    details_ct: str  # brand, last4, expiry: encrypted, bound to the user
    created_at: str
    status: str = "active"


@dataclass(frozen=True)
class NewTopUp:
    """A top-up claimed before Stripe is called (it holds the idempotency key)."""

    topup_id: str
    user_id: str
    wallet_id: str
    payment_method_id: str
    amount: int
    currency: str
    request_hash: str
    created_at: str
    status: str = "creating"
    payment_intent_id: str | None = None
