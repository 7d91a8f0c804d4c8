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
    # When the account first signed in: a login from an unknown device is news only after that
    # (registering and then logging in is not a "new sign-in" anyone needs telling about).
    signed_in_at: str | None = None
    # Epoch seconds since when nobody has proved owning a contact of the account (registration);
    # None once one is verified. Such an account is closed after 7 days (services.closing).
    unverified_since: int | None = None
    # Bumped by a password reset or change, "sign out everywhere else" and closing. Each login
    # (`Session.auth_epoch`) and device token carries the value it was issued under; one older
    # than the account's is not honoured, so nothing signed in under the old credentials
    # outlives the change, even a login that raced it or that the by-user index did not show.
    auth_epoch: int = 0
    # The one device the owner made the last such change from (a password change, "sign out
    # everywhere else"): its device token stays trusted across the change, so her own next login
    # is not thrown into the pool strangers can lock (services.devices). A reset or closing
    # keeps none.
    kept_device: KeptDevice | None = None


@dataclass(frozen=True)
class KeptDevice:
    """A device whose token survives an auth-epoch bump: its device key, and the oldest epoch
    its token may have been issued under (a login at `since`, carried over since)."""

    key: str
    since: int

    def encode(self) -> str:
        return f"{self.since}:{self.key}"

    @classmethod
    def decode(cls, text: str | None) -> KeptDevice | None:
        since, _, key = (text or "").partition(":")
        return cls(key=key, since=int(since)) if since.isdigit() and key else None


def can_sign_in(user: User) -> bool:
    """Whether the account may start or keep a login: a frozen one may (it reads and receives;
    only sending is refused), a closed one never, by any route."""
    return user.status in ("active", "frozen")


def has_verified_contact(user: User) -> bool:
    """Whether someone proved owning the account's e-mail or phone: until then it may only read,
    verify, change its password and manage its sessions (docs/account-safety.md)."""
    return bool(user.email_verified or user.phone_verified)


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
    created_at: str = ""  # RFC 3339: the sign-in
    # RFC 3339: the last sign-in or refresh (the access token's life is the error bar). Not
    # every request: that would be a write per call on the hot path.
    last_used_at: str = ""
    user_agent: str | None = None  # as the client named itself (`clean_user_agent`), for its owner
    device_key: str | None = None  # identifies the device token it signed in with (services.devices)
    new_device: bool = False  # signed in from a client the account had no device token for
    auth_epoch: int = 0  # the account's `User.auth_epoch` when it signed in (read with the password)

    def active_at(self, now: int) -> bool:
        """Whether an access token of this login is still honoured."""
        return self.status == "active" and self.expires_at > now


MAX_USER_AGENT = 256


def clean_user_agent(value: object) -> str | None:
    """A client's User-Agent as the sessions list and the new sign-in notice show it: printable
    characters only (it reaches an e-mail and a web page), at most 256 of them; None if empty."""
    if not isinstance(value, str):
        return None
    text = "".join(ch if ch.isprintable() else " " for ch in value).strip()[:MAX_USER_AGENT].strip()
    return text or None


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
