"""Money sent to a contact that nobody has verified yet (guarantee 11).

The money waits in a hold on the sender's wallet. It goes to the first account that verifies
the contact before `expires_at`, or back to the sender (cancel, or expiry): the invitation
leaves `unclaimed` in the same transaction as the hold is posted or voided, on the condition
that it is still `unclaimed`, so exactly one of them ever happens.
"""
from __future__ import annotations

from dataclasses import dataclass

INVITATIONS_ACCOUNT = "invitations"  # the system account a hold names until someone claims it
STATUSES = ("unclaimed", "posted", "canceled", "expired")


@dataclass(frozen=True)
class Invitation:
    transfer_id: str
    sender_id: str
    wallet_id: str
    contact_key: str
    amount: int
    currency: str
    status: str
    created_at: str
    expires_at: int
    claimed_by: str | None = None
