"""Payment requests: one person asks another for an amount (guarantee 12).

A request is `pending` until exactly one outcome happens: `paid` (by the payer, in the SAME
transaction as the money, on the condition that it is still pending and unexpired), `declined`
(payer), `canceled` (requester) or `expired`. Expiry is read-time: past `expires_at` a pending
request reads as expired at once, and a scheduled sweep writes the status later.
"""
from __future__ import annotations

from dataclasses import dataclass

MIN_EXPIRES_IN = 60
MAX_EXPIRES_IN = 30 * 86400
DEFAULT_EXPIRES_IN = 7 * 86400
REQUESTS_PER_HOUR = 30  # per requester: each request notifies someone else
STATUSES = ("pending", "paid", "declined", "canceled", "expired")
ROLES = ("incoming", "outgoing")


@dataclass(frozen=True)
class PaymentRequest:
    request_id: str
    requester_id: str
    payer_id: str
    amount: int
    currency: str
    status: str
    created_at: str  # RFC 3339
    created_ms: int  # orders the lists (newest first)
    expires_at: int  # epoch seconds
    memo_ct: str | None = None
    transfer_id: str | None = None

    def status_at(self, now: float) -> str:
        """The status as anyone reads it: a pending request past its expiry is expired."""
        return "expired" if self.status == "pending" and now >= self.expires_at else self.status

    def party_of(self, user_id: str) -> str | None:
        """"incoming" for the payer, "outgoing" for the requester, None for anyone else."""
        if user_id == self.payer_id:
            return "incoming"
        if user_id == self.requester_id:
            return "outgoing"
        return None


@dataclass(frozen=True)
class RequestOutcome:
    """A request leaves `pending`, written with its condition: `paid`/`declined` only by the
    payer and `canceled` only by the requester, before the expiry; `expired` only at or after
    it. `at` is the time compared with the expiry; `transfer_id` the payment (paid only)."""

    request_id: str
    status: str
    at: int
    by: str | None = None
    transfer_id: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES[1:]:
            raise ValueError(f"no outcome {self.status!r}")
        if self.status != "expired" and not self.by:
            raise ValueError(f"a request {self.status} needs `by`")
        if (self.status == "paid") != bool(self.transfer_id):
            raise ValueError("a paid request names its transfer, and only a paid one")
