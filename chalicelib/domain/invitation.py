"""Money sent to a contact that nobody has verified yet (guarantee 11).

The money waits in a hold on the sender's wallet. It goes to the first account that verifies
the contact before `expires_at`, or back to the sender (cancel, or expiry): the invitation
leaves `unclaimed` in the same transaction as the hold is posted or voided, on the condition
that it is still `unclaimed`, so exactly one of them ever happens.
"""
from __future__ import annotations

from dataclasses import dataclass

INVITATIONS_ACCOUNT = "invitations"  # the system account a hold names until someone claims it


@dataclass(frozen=True)
class Invitee:
    """Whom an invitation is for: the contact's identity key (what claims it), and where the
    announcement goes (the normalized address, `email` or `phone`)."""

    contact_key: str
    channel: str
    address: str


@dataclass(frozen=True)
class Invitation:
    transfer_id: str
    sender_id: str
    wallet_id: str
    contact_key: str
    amount: int
    currency: str
    status: str  # unclaimed | posted | canceled | expired
    created_at: str
    expires_at: int
    claimed_by: str | None = None
