"""Accounts and sessions: register, log in, refresh, log out, social sign-in, profile, password.

Access tokens are short-lived JWTs naming the session (`sid`); every authenticated request also
checks that session is still active, so logout, password change and refresh-token reuse end
the login's access tokens too, not only its refresh tokens.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.contact import (
    email_lookup_key,
    identity_key,
    normalize_email,
    normalize_phone,
    phone_lookup_key,
)
from chalicelib.domain.errors import Conflict, EmailTaken, InvalidCredentials, NotFound, Unauthorized
from chalicelib.domain.ids import new_id, rfc3339
from chalicelib.domain.ledger import default_wallet_id
from chalicelib.domain.passwords import check_password
from chalicelib.domain.principal import PendingSession, Principal
from chalicelib.domain.user import NewWallet, Session, User
from chalicelib.services.lockout import Lockout, password_key
from chalicelib.services.mfa import Mfa
from chalicelib.services.ports import FieldCipher

PROFILE_FIELDS = ("email", "phone", "first_name", "last_name")


def decrypted_profile(user: User, cipher: FieldCipher) -> Profile:
    """The owner's profile, its fields decrypted (the data key only: no token key needed)."""
    values = {name: cipher.decrypt(ct, user.user_id, name) if (ct := getattr(user, f"{name}_ct")) else None
              for name in PROFILE_FIELDS}
    return Profile(user_id=user.user_id, mfa_enabled=user.mfa_enabled, created_at=user.created_at,
                   email_verified=user.email_verified, phone_verified=user.phone_verified, **values)


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    access_ttl: int = 900  # 15 minutes: the most access tokens may live
    refresh_ttl: int = 30 * 24 * 3600


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


@dataclass(frozen=True)
class Profile:
    user_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    mfa_enabled: bool
    created_at: str
    email_verified: bool = False
    phone_verified: bool = False


REFRESH_GRACE_SECONDS = 10  # a retried or doubled refresh of one token, not a replay
RECENT_TOKENS = 10  # used refresh-token hashes kept per login (their replay revokes it)


def _bounded(recent: list[str], used: str) -> list[str]:
    return [*recent, used][-RECENT_TOKENS:]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class Identity:
    users: Any
    sessions: Any
    hasher: Any
    cipher: FieldCipher
    blind_index: Callable[[str], str]
    jwt: Any
    policy: TokenPolicy
    login_lockout: Lockout
    mfa: Mfa
    default_currency: str
    now: Callable[[], float] = time.time
    # Called when a provider proves an e-mail: the money waiting for it is delivered.
    deliver: Callable[[str, str], int] = lambda contact_key, user_id: 0

    # -- registration -------------------------------------------------------------------------
    def register(self, email: str, password: str, phone: str | None = None,
                 first_name: str | None = None, last_name: str | None = None) -> Profile:
        email = normalize_email(email)
        phone = normalize_phone(phone) if phone else None
        check_password(password)
        user_id = new_id("usr")
        created = rfc3339(self.now())
        user = User(user_id=user_id, created_at=created, password_hash=self.hasher.hash(password))
        values = {"email": email, "phone": phone, "first_name": first_name, "last_name": last_name}
        for name, value in values.items():
            if value:
                setattr(user, f"{name}_ct", self.cipher.encrypt(value, user_id, name))
        # The e-mail is unique from the start; the phone only once verified, so here it must
        # merely not be someone's verified phone (checked in the same transaction).
        identities = [self._identity_key(email_lookup_key(email))]
        absent = (self._identity_key(phone_lookup_key(phone)),) if phone else ()
        self.users.create(user, identities, self._default_wallet(user_id, created), absent=absent)
        return Profile(user_id=user_id, email=email, phone=phone, first_name=first_name, last_name=last_name,
                       mfa_enabled=False, created_at=created)

    def _identity_key(self, lookup_key: str) -> str:
        return identity_key(lookup_key, self.blind_index)

    def _default_wallet(self, user_id: str, created: str) -> NewWallet:
        return NewWallet(wallet_id=default_wallet_id(user_id, self.default_currency), owner_id=user_id,
                         currency=self.default_currency,
                         name="Main", created_at=created)

    # -- login and tokens ---------------------------------------------------------------------
    def login(self, password: str, email: str | None = None, phone: str | None = None) -> TokenPair:
        if email:
            lookup = email_lookup_key(normalize_email(email))
        elif phone:
            lookup = phone_lookup_key(normalize_phone(phone))
        else:
            raise InvalidCredentials()
        user_id = self.users.user_id_for(self._identity_key(lookup))
        # Guesses count per account, whichever identifier (e-mail, phone) or route (login,
        # password change) they come through; an unknown identifier has a counter of its own,
        # so the lockout answers alike for accounts that exist and ones that do not.
        key, now = password_key(user_id) if user_id else f"login#{self.blind_index(lookup)}", int(self.now())
        self.login_lockout.attempt(key, now)
        user = self.users.get(user_id) if user_id else None
        # Always one bcrypt, so unknown accounts answer as slowly as wrong passwords.
        ok = self.hasher.verify(password, user.password_hash if user else None)
        # A frozen account signs in (it may read and receive; only sending is refused).
        if not ok or user is None or user.status not in ("active", "frozen"):
            raise InvalidCredentials()
        self.login_lockout.succeeded(key)
        return self._start_session(user.user_id)

    def _start_session(self, user_id: str) -> TokenPair:
        now = int(self.now())
        session_id = new_id("ses")
        refresh = self._new_refresh(session_id)
        self.sessions.create(Session(session_id=session_id, user_id=user_id, current_hash=_token_hash(refresh),
                                     generation=0, status="active", expires_at=now + self.policy.refresh_ttl),
                             rfc3339(now))
        return TokenPair(self._access_token(user_id, session_id, now), refresh, self.policy.access_ttl)

    @staticmethod
    def _new_refresh(session_id: str) -> str:
        return f"rt.{session_id}.{secrets.token_urlsafe(32)}"

    def _access_token(self, user_id: str, session_id: str, now: int) -> str:
        return str(self.jwt.sign({
            "iss": self.policy.issuer, "aud": self.policy.audience, "sub": user_id, "sid": session_id,
            "iat": now, "nbf": now, "exp": now + self.policy.access_ttl, "jti": secrets.token_hex(12),
            "token_use": "access",
        }))

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: the presented token dies. A used token presented again revokes the whole login,
        except the token just retired, presented again within a few seconds: that is the same
        client retrying (its first answer was lost) or racing itself, and it gets a new pair."""
        session = self._session_of(refresh_token)
        now = int(self.now())
        presented = _token_hash(refresh_token)
        if presented == session.current_hash:
            pair = self._rotate(session, now, retired=presented)
            if pair is not None:
                return pair
            session = self._session_of(refresh_token)  # a concurrent rotation of the same token won
        if (session.status == "active" and presented == session.previous_hash
                and now - session.rotated_at <= REFRESH_GRACE_SECONDS):
            pair = self._rotate(session, now)
            if pair is not None:
                return pair
            raise Unauthorized("The refresh token is not valid.")
        if presented == session.previous_hash or presented in session.recent_hashes:
            # Reuse: the token was stolen or replayed. End the login for everyone holding it.
            self.sessions.revoke(session.session_id)
        raise Unauthorized("The refresh token is not valid.")

    def _rotate(self, session: Session, now: int, retired: str | None = None) -> TokenPair | None:
        """Replace the session's current token by a new one (the replaced one joins the bounded
        list of used tokens); None if another rotation got there first."""
        new = self._new_refresh(session.session_id)
        if not self.sessions.rotate(session.session_id, session.current_hash, _token_hash(new),
                                    _bounded(session.recent_hashes, session.current_hash), now, retired=retired):
            return None
        return TokenPair(self._access_token(session.user_id, session.session_id, now), new, self.policy.access_ttl)

    def logout(self, refresh_token: str) -> None:
        session = self._session_of(refresh_token)
        presented = _token_hash(refresh_token)
        # Only a token of this family may end it (the id alone is not a credential).
        if presented != session.current_hash and presented not in session.recent_hashes:
            raise Unauthorized("The refresh token is not valid.")
        self.sessions.revoke(session.session_id)

    def _session_of(self, refresh_token: str) -> Session:
        parts = refresh_token.split(".") if isinstance(refresh_token, str) else []
        session = self.sessions.get(parts[1]) if len(parts) == 3 and parts[0] == "rt" and parts[1] else None
        if session is None:
            raise Unauthorized("The refresh token is not valid.")
        return session

    def verify_access(self, token: str) -> Principal:
        """The token's principal, its login read back and still active."""
        principal = self.verify_token(token)
        self.confirm_session(principal)
        return Principal(user_id=principal.user_id, session_id=principal.session_id)

    def verify_token(self, token: str) -> Principal:
        """The token's principal, its signature and claims checked but its login not yet read:
        the route reads it in its own first round trip (`PendingSession`)."""
        claims = self.jwt.verify(token, audience=self.policy.audience, issuer=self.policy.issuer)
        session_id = str(claims.get("sid", ""))
        if not session_id:
            raise Unauthorized()
        return Principal(user_id=str(claims["sub"]), session_id=session_id, pending=PendingSession(session_id))

    def confirm_session(self, principal: Principal) -> None:
        """Unauthorized unless the principal's login is active (read, unless confirmed already)."""
        if principal.pending and principal.pending.confirmed:
            return
        if not principal.session_id or not self.sessions.is_active(principal.session_id, int(self.now())):
            raise Unauthorized()
        if principal.pending:
            principal.pending.confirmed = True

    # -- profile and password -----------------------------------------------------------------
    def profile(self, user_id: str) -> Profile:
        user = self.users.get(user_id)
        if user is None:
            raise NotFound()
        return decrypted_profile(user, self.cipher)

    def change_password(self, user_id: str, current: str, new: str, otp: Any = None) -> None:
        user = self.users.get(user_id)
        if user is None:
            raise NotFound()
        key, now = password_key(user_id), int(self.now())
        self.login_lockout.attempt(key, now)
        if not self.hasher.verify(current, user.password_hash):
            raise InvalidCredentials("The current password is not correct.")
        if user.mfa_enabled:
            self.mfa.require(user_id, otp)
        check_password(new, field="new_password")
        self.users.set_password(user_id, self.hasher.hash(new))
        self.login_lockout.succeeded(key)
        self.sessions.revoke_all(user_id)

    # -- social sign-in -----------------------------------------------------------------------
    def social_sign_in(self, provider: str, claims: dict[str, Any]) -> tuple[TokenPair, bool]:
        """Sign in with verified ID-token claims: (tokens, whether the account was created).

        A verified e-mail that matches an existing account links the provider to that account.
        """
        subject_key = f"{provider}#{claims['sub']}"
        email = claims.get("email") if claims.get("email_verified") in (True, "true") else None
        email = normalize_email(email) if isinstance(email, str) else None
        for _ in range(3):  # a concurrent first sign-in may win a race: then we link to its user
            user_id = self.users.user_id_for(subject_key)
            if user_id:
                return self._start_session(user_id), False
            if email:
                email_key = self._identity_key(email_lookup_key(email))
                existing = self.users.user_id_for(email_key)
                if existing:
                    owner = self.users.link(subject_key, existing, rfc3339(self.now()))
                    self._secure_linked_account(owner)
                    if owner == existing:  # the provider proved the e-mail: it is verified now
                        self.users.confirm_email(owner, email_key, None)
                        self.deliver(email_key, owner)
                    return self._start_session(owner), False
            try:
                user_id = self._create_social_user(subject_key, email, claims)
                if email:
                    self.deliver(self._identity_key(email_lookup_key(email)), user_id)
                return self._start_session(user_id), True
            except (EmailTaken, Conflict):
                continue
        raise Conflict("The account changed concurrently; try again.")

    def _secure_linked_account(self, user_id: str) -> None:
        """Nobody ever proved owning the e-mail of a password account (registration sends no
        mail), but the provider just did: whoever registered it with a password may be someone
        else (account pre-hijacking). The password stops working and every login of the
        account ends; the owner signs in with the provider and can set a new password."""
        user = self.users.get(user_id)
        if user is not None and user.password_hash:
            self.users.clear_password(user_id)
            self.sessions.revoke_all(user_id)

    def _create_social_user(self, subject_key: str, email: str | None, claims: dict[str, Any]) -> str:
        user_id = new_id("usr")
        created = rfc3339(self.now())
        user = User(user_id=user_id, created_at=created, email_verified=email is not None)
        names = {"email": email, "first_name": claims.get("given_name"), "last_name": claims.get("family_name")}
        for name, value in names.items():
            if isinstance(value, str) and value:
                setattr(user, f"{name}_ct", self.cipher.encrypt(value, user_id, name))
        email_keys = [self._identity_key(email_lookup_key(email))] if email else []
        # The provider verified the e-mail: it is a payment address from the start.
        self.users.create(user, [subject_key, *email_keys], self._default_wallet(user_id, created),
                          verified=tuple(email_keys))
        return user_id
