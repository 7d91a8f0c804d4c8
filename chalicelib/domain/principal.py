"""Who is calling: the verified subject of an access token."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PendingSession:
    """A token's login (session) not yet read back. A route whose first read can carry it
    (a transfer reads the session with the idempotency record and both wallets in ONE batch)
    confirms it there; the middleware reads it after the view if nothing did, and a revoked
    login then gets 401 whatever the view answered. Nothing may be written before it is
    confirmed."""

    session_id: str
    confirmed: bool = False


@dataclass(frozen=True)
class Principal:
    user_id: str
    session_id: str | None = None
    # Set only on routes that read the session themselves (`route(..., reads_session=True)`).
    pending: PendingSession | None = field(default=None, compare=False)
    # The token's `cv` claim: the account had a verified contact when the token was issued.
    # False (or an older token without the claim) is not a refusal: the gate reads the account.
    verified: bool = False
