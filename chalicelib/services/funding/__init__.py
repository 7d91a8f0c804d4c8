"""Funding through Stripe, by subject: payment methods, top-ups, withdrawals, and the Stripe
events about charges and payouts. `Funding` is the one service the routes and the events
Lambda use; each subject lives in its own module."""
from __future__ import annotations

from typing import Any

from chalicelib.services.funding.charges import Charges, DisputeStillHeld
from chalicelib.services.funding.common import (
    CLEARING,
    DISPUTES,
    PAYOUTS,
    RESUME_WITHIN,
    Applied,
    CreditNotYetApplied,
    EventRaced,
    PayoutNotYetRecorded,
    Redeliver,
)
from chalicelib.services.funding.topups import TopUps
from chalicelib.services.funding.withdrawals import Withdrawals

__all__ = ["CLEARING", "DISPUTES", "PAYOUTS", "RESUME_WITHIN", "Applied", "CreditNotYetApplied",
           "DisputeStillHeld", "EventRaced", "Funding", "PayoutNotYetRecorded", "Redeliver"]

# Events that may come from a connected account (Connect endpoints get every event of every
# connected account, with the event's top-level `account`): only payouts, which in Connect mode
# happen on the user's connected account and settle by the payout id we recorded. A connected
# account's charges, intents, refunds and disputes move that account's money, never ours.
_CONNECTED_ACCOUNT_EVENTS = ("payout.paid", "payout.failed", "payout.canceled")


class Funding(TopUps, Withdrawals, Charges):
    """Built with FundingBase's fields: repo, gateway, ledger, mfa, cipher, now."""

    def apply(self, event_type: str, obj: dict[str, Any], account: str | None = None) -> str:
        """Apply one verified Stripe event; what happened, for the log. `account`: the connected
        account the event happened on (the event's own `account`), None for our own account."""
        if account and event_type not in _CONNECTED_ACCOUNT_EVENTS:
            return str(Applied.IGNORED)
        handler = {
            "payment_intent.succeeded": self._intent_succeeded,
            "payment_intent.payment_failed": self._intent_failed,
            "charge.refunded": self._charge_refunded,
            "charge.refund.updated": self._refund_updated,
            "charge.dispute.created": self._dispute_created,
            "charge.dispute.closed": self._dispute_closed,
            "payout.paid": lambda o: self._payout_settled(o, paid=True),
            "payout.failed": lambda o: self._payout_settled(o, paid=False),
            "payout.canceled": lambda o: self._payout_settled(o, paid=False),
        }.get(event_type)
        return str(handler(obj)) if handler else str(Applied.IGNORED)
