"""What every funding module shares: the system accounts, the Stripe window, the base."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chalicelib.domain.errors import NotFound
from chalicelib.domain.ledger import deterministic_id
from chalicelib.services.ledger import Ledger
from chalicelib.services.ports import Clock, FieldCipher, FundingRepository, PaymentGateway, SecondFactor

log = logging.getLogger("chalicelib.services.funding")

CLEARING = "stripe_clearing"  # money that Stripe holds for us: top-ups in, refunds out
PAYOUTS = "payouts"  # money on its way to users' banks
DISPUTES = "disputes"

RESUME_WITHIN = 23 * 3600  # below Stripe's 24 h idempotency-key memory


def topup_credit_id(intent_id: str) -> str:
    """The ledger transfer that credits a PaymentIntent's money: one per intent, ever."""
    return deterministic_id("tp", intent_id)


def epoch(rfc3339_time: str) -> float:
    return datetime.fromisoformat(rfc3339_time.replace("Z", "+00:00")).timestamp()


class Applied(StrEnum):
    """What applying a Stripe event did (logged, counted; never sent to a client)."""

    IGNORED = "ignored"
    CREDITED = "credited"
    ALREADY_CREDITED = "already credited"
    FAILED = "failed"
    KEPT = "kept"
    APPLIED = "applied"
    ALREADY_APPLIED = "already applied"
    SHORTFALL = "shortfall"
    MISMATCH = "mismatch"
    MALFORMED = "malformed"
    UNKNOWN_TOPUP = "unknown top-up"
    UNKNOWN_PAYOUT = "unknown payout"
    UNKNOWN_DISPUTE = "unknown dispute"
    REFUND_RETURNED = "refund returned"
    PAID = "paid"
    VOIDED = "voided"
    REVERSED = "reversed"
    ALREADY_SETTLED = "already settled"
    POSTED = "posted"
    RELEASED = "released"
    ALREADY = "already"


class Redeliver(Exception):
    """The event cannot be applied yet: fail it, so the queue delivers it again later (and,
    after its retries, to the dead-letter queue and its alarm)."""


class CreditNotYetApplied(Redeliver):
    """A refund or dispute arrived before the top-up it concerns was credited."""


class EventRaced(Redeliver):
    """The event lost a race three times in a row."""


class PayoutNotYetRecorded(Redeliver):
    """A payout event arrived before we recorded the payout's id on its withdrawal."""


@dataclass
class FundingBase:
    """The collaborators every funding use case has; `Funding` combines the subjects."""

    repo: FundingRepository
    gateway: PaymentGateway
    ledger: Ledger
    mfa: SecondFactor
    cipher: FieldCipher
    now: Clock = time.time

    def customer(self, user_id: str) -> str:
        """The user's Stripe customer, created once (the first one stored wins a race)."""
        user = self.repo.user(user_id)
        if user is None:
            raise NotFound()
        if user.stripe_customer_id:
            return str(user.stripe_customer_id)
        return str(self.repo.set_customer(user_id, self.gateway.create_customer(user_id)))
