"""The user account as the services see it. Sensitive fields stay ciphertext here; only the
identity service decrypts them, for the owner."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class User:
    user_id: str
    created_at: str
    email_ct: str | None = None
    phone_ct: str | None = None
    first_name_ct: str | None = None
    last_name_ct: str | None = None
    email_verified: bool = False
    phone_verified: bool = False
    password_hash: str | None = None
    mfa_enabled: bool = False
    totp_secret_ct: str | None = None
    totp_pending_ct: str | None = None
    totp_last_step: int = 0
    recovery_codes: set[str] = field(default_factory=set)  # hashes of the unused codes
    status: str = "active"


@dataclass(frozen=True)
class NewWallet:
    wallet_id: str
    owner_id: str
    currency: str
    name: str
    created_at: str
    is_default: bool = True


@dataclass
class Session:
    """One login: a family of rotating refresh tokens."""

    session_id: str
    user_id: str
    current_hash: str
    generation: int
    status: str  # active | revoked
    expires_at: int
    # The last few used tokens' hashes, oldest first: bounded, so the item never grows with the
    # age of a login. A replay of one of them is theft (the family is revoked).
    recent_hashes: list[str] = field(default_factory=list)
    previous_hash: str | None = None  # the token the last rotation retired...
    rotated_at: int = 0  # ...and when: presented again within the grace period, it is a retry

    def active_at(self, now: int) -> bool:
        """Whether an access token of this login is still honoured."""
        return self.status == "active" and self.expires_at > now


@dataclass(frozen=True)
class PhoneChange:
    """A new (unverified) phone for an account: `new_key` is its identity key, which must not
    belong to anyone (a verified phone); `old_ct` the ciphertext it replaces (the write is
    conditional on it), `old_verified_key` the old phone's identity item, freed with the change."""

    new_ct: str
    new_key: str
    old_ct: str | None
    old_verified_key: str | None


@dataclass(frozen=True)
class CodeProof:
    """A checked one-time code: used up (if it is still this code, unused) in the same
    transaction as what it proves."""

    key: str
    code_hash: str
