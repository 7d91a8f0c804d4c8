"""Accounts and sessions: register, log in, refresh, log out, social sign-in, profile, password.

Access tokens are short-lived JWTs naming the session (`sid`); every authenticated request also
checks that session is still active, so logout, password change and refresh-token reuse end
the login's access tokens too, not only its refresh tokens. Each login carries the account's
auth epoch it signed in under (domain.user.User.auth_epoch); a refresh refuses, and ends, one
older than the account's.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property, partial
from typing import Any

from chalicelib.domain.commands import SocialSignIn
from chalicelib.domain.contact import (
    email_lookup_key,
    identity_key,
    normalize_email,
    normalize_phone,
    phone_lookup_key,
)
from chalicelib.domain.errors import (
    Conflict,
    EmailTaken,
    InvalidCredentials,
    NotFound,
    Unauthorized,
    VerificationRequired,
)
from chalicelib.domain.ids import new_id, rfc3339
from chalicelib.domain.ledger import default_wallet_id
from chalicelib.domain.passwords import check_password
from chalicelib.domain.principal import PendingSession, Principal
from chalicelib.domain.user import (
    KeptDevice,
    NewWallet,
    Session,
    User,
    can_sign_in,
    clean_user_agent,
    has_verified_contact,
)
from chalicelib.services.closing import AccountClosing
from chalicelib.services.devices import DeviceTokens, TrustedDevice
from chalicelib.services.lockout import Lockout, device_failures_key, untrusted_key
from chalicelib.services.mfa import Mfa
from chalicelib.services.ports import FieldCipher
from chalicelib.services.sessions import (
    SESSION_PASSWORD_FAILURES,
    SESSION_PASSWORD_WINDOW,
    CloseConnections,
    Logins,
    SessionPasswords,
    SessionView,
    no_connections,
)

PROFILE_FIELDS = ("email", "phone", "first_name", "last_name")


NOBODY = "usr_nobody"  # never a user's id (new_id gives "usr_" and 32 hex digits)


def new_user(cipher: FieldCipher, values: Mapping[str, str | None], **fields: Any) -> User:
    """A new account (`fields`: its User fields but the id and creation time), with the string
    `values` among its e-mail, phone and names encrypted; others are left out."""
    user = User(user_id=new_id("usr"), **fields)
    for name, value in values.items():
        if isinstance(value, str) and value:
            setattr(user, f"{name}_ct", cipher.encrypt(value, user.user_id, name))
    return user


def default_wallet(user: User, currency: str) -> NewWallet:
    """The wallet an account is opened with."""
    return NewWallet(wallet_id=default_wallet_id(user.user_id, currency), owner_id=user.user_id, currency=currency,
                     name="Main", created_at=user.created_at)


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
class LoginTokens(TokenPair):
    """A password login's pair, with the client's device token (to send on its next login)."""

    device_token: str = ""


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
    # Closes the WebSockets of ended logins (services.notifications; none in unit tests).
    close_connections: CloseConnections = no_connections
    # Whether an account holds money: one closed by a provider sign-in is reported to operators.
    holds_money: Callable[[str], bool] = lambda user_id: False

    @cached_property
    def logins(self) -> Logins:
        """Listing and ending logins: the one path every ending takes (services.sessions)."""
        return Logins(self.sessions, self.close_connections, self.now)

    @cached_property
    def devices(self) -> DeviceTokens:
        return DeviceTokens.derived_from(self.blind_index)

    @cached_property
    def session_passwords(self) -> SessionPasswords:
        """Wrong passwords typed inside a login (step-up, password change), counted per login."""
        lockout = Lockout(self.login_lockout.counters, SESSION_PASSWORD_FAILURES, SESSION_PASSWORD_WINDOW)
        return SessionPasswords(lockout, self.logins.end, self.now)

    # -- registration -------------------------------------------------------------------------
    def register(self, email: str, password: str, phone: str | None = None,
                 first_name: str | None = None, last_name: str | None = None) -> Profile:
        email = normalize_email(email)
        phone = normalize_phone(phone) if phone else None
        check_password(password)
        values = {"email": email, "phone": phone, "first_name": first_name, "last_name": last_name}
        user = new_user(self.cipher, values, created_at=rfc3339(self.now()), password_hash=self.hasher.hash(password),
                        unverified_since=int(self.now()))  # nothing is proven until a code is typed back
        # The e-mail is unique from the start; the phone only once verified, so here it must
        # merely not be someone's verified phone (checked in the same transaction).
        identities = [self._identity_key(email_lookup_key(email))]
        absent = (self._identity_key(phone_lookup_key(phone)),) if phone else ()
        self.users.create(user, identities, default_wallet(user, self.default_currency), absent=absent)
        return Profile(user_id=user.user_id, email=email, phone=phone, first_name=first_name, last_name=last_name,
                       mfa_enabled=False, created_at=user.created_at)

    def _identity_key(self, lookup_key: str) -> str:
        return identity_key(lookup_key, self.blind_index)

    # -- login and tokens ---------------------------------------------------------------------
    def login(self, password: str, email: str | None = None, phone: str | None = None, *,
              device_token: str | None = None, user_agent: str | None = None) -> LoginTokens:
        if email:
            lookup = email_lookup_key(normalize_email(email))
        elif phone:
            lookup = phone_lookup_key(normalize_phone(phone))
        else:
            raise InvalidCredentials()
        identifier = self._identity_key(lookup)
        user_id = self.users.user_id_for(identifier)
        now = int(self.now())
        # The one read of the account: its password hash, and its auth epoch, which the device
        # token is checked against and the login is stamped with (a reset racing this login
        # leaves it stamped older, so its first refresh is refused).
        # An unknown identifier reads an account nobody has: the same round trips either way,
        # so even a 429 (which skips bcrypt) takes as long for a known identifier as for an
        # unknown one (review 26e).
        user = self.users.get(user_id or NOBODY)
        # Lockout without denial of service: a client with a valid device token for the account
        # counts its own failures only; every other client shares one counter per identifier
        # (e-mail or phone, known or not), so strangers' guesses lock out strangers, never the
        # owner's trusted devices, and the answers look alike whoever the identifier is. Every
        # attempt is counted before the password is checked (services.lockout).
        device = (self.devices.trusted(device_token, user.user_id, user.auth_epoch, now, user.kept_device)
                  if user else None)
        key = device_failures_key(device.key) if device is not None else untrusted_key(identifier)
        self.login_lockout.attempt(key, now)
        # Always one bcrypt, so unknown accounts answer as slowly as wrong passwords.
        ok = self.hasher.verify(password, user.password_hash if user else None)
        if not ok or user is None or not can_sign_in(user):
            raise InvalidCredentials()
        self.login_lockout.succeeded(key)
        return self._password_session(user, device, now, user_agent)

    def _password_session(self, user: User, device: TrustedDevice | None, now: int,
                          user_agent: str | None) -> LoginTokens:
        """The login's session and the client's device token: the one it presented, renewed for
        90 days, or a new one. A client without one is a new device, worth telling the owner
        about (`security.new_sign_in`), unless this is the account's very first sign-in."""
        new_device = device is None and self._announced(user, now)
        token, device = self.devices.issue(user.user_id, user.auth_epoch, now, device)
        pair = self._start_session(user, user_agent=user_agent, device_key=device.key, new_device=new_device)
        return LoginTokens(**vars(pair), device_token=token)

    def _announced(self, user: User, now: int) -> bool:
        """Whether a sign-in without a trusted device token is news for the owner: always, but
        for the account's very first sign-in (set once, atomically: of two racing first
        sign-ins, the loser is a new device)."""
        return user.signed_in_at is not None or not self.users.mark_signed_in(user.user_id, rfc3339(now))

    def _start_session(self, user: User, *, user_agent: str | None = None, device_key: str | None = None,
                       new_device: bool = False) -> TokenPair:
        """A login of the account as just read (its verified contact and auth epoch)."""
        now = int(self.now())
        session_id = new_id("ses")
        refresh = self._new_refresh(session_id)
        created = rfc3339(self.now())  # to the millisecond: the sessions list is ordered by it
        self.sessions.create(Session(session_id=session_id, user_id=user.user_id, current_hash=_token_hash(refresh),
                                     generation=0, status="active", expires_at=now + self.policy.refresh_ttl,
                                     created_at=created, last_used_at=created,
                                     user_agent=clean_user_agent(user_agent), device_key=device_key,
                                     new_device=new_device, auth_epoch=user.auth_epoch),
                             created)
        return TokenPair(self._access_token(user.user_id, session_id, now, verified=has_verified_contact(user)),
                         refresh, self.policy.access_ttl)

    @staticmethod
    def _new_refresh(session_id: str) -> str:
        return f"rt.{session_id}.{secrets.token_urlsafe(32)}"

    def _access_token(self, user_id: str, session_id: str, now: int, *, verified: bool = False) -> str:
        return str(self.jwt.sign({
            "iss": self.policy.issuer, "aud": self.policy.audience, "sub": user_id, "sid": session_id,
            "iat": now, "nbf": now, "exp": now + self.policy.access_ttl, "jti": secrets.token_hex(12),
            "token_use": "access",
            # The account had a verified contact at issue: the verification gate then costs no
            # read (api.auth). Replacing the only verified phone is seen at the next refresh.
            "cv": verified,
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
            self.logins.end(session.user_id, [session.session_id])
        raise Unauthorized("The refresh token is not valid.")

    def _rotate(self, session: Session, now: int, retired: str | None = None) -> TokenPair | None:
        """Replace the session's current token by a new one (the replaced one joins the bounded
        list of used tokens); None if another rotation got there first."""
        user = self.users.get(session.user_id)
        if user is None or not can_sign_in(user):  # closed: its logins end, whatever they hold
            raise Unauthorized("The refresh token is not valid.")
        if session.auth_epoch < user.auth_epoch:
            # Signed in before a reset, a password change, "sign out everywhere else" or a
            # closing, and not found when that ended the account's logins: ended now. Unless the
            # session as read is older than the account as read: this very login's own change
            # (revoke-others, a password change) may have carried it over in between, and it
            # must not end itself (review 26d). Read again: still older, it ends; carried over,
            # the rotation goes on from the session as it is now.
            current = self.sessions.get(session.session_id)
            if current is None or current.auth_epoch < user.auth_epoch or current.status != "active":
                self.logins.end(user.user_id, [session.session_id])
                raise Unauthorized("The refresh token is not valid.")
            if current.current_hash != session.current_hash:
                return None  # and a rotation in between: the caller's retry path decides
            session = current
        new = self._new_refresh(session.session_id)
        if not self.sessions.rotate(session.session_id, session.current_hash, _token_hash(new),
                                    _bounded(session.recent_hashes, session.current_hash), now, retired=retired):
            return None
        return TokenPair(self._access_token(session.user_id, session.session_id, now,
                                            verified=has_verified_contact(user)),
                         new, self.policy.access_ttl)

    def logout(self, refresh_token: str) -> None:
        session = self._session_of(refresh_token)
        presented = _token_hash(refresh_token)
        # Only a token of this family may end it (the id alone is not a credential).
        if presented != session.current_hash and presented not in session.recent_hashes:
            raise Unauthorized("The refresh token is not valid.")
        self.logins.end(session.user_id, [session.session_id])

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
        return replace(principal, pending=None)  # every claim kept: the login is confirmed

    def verify_token(self, token: str) -> Principal:
        """The token's principal, its signature and claims checked but its login not yet read:
        the route reads it in its own first round trip (`PendingSession`)."""
        claims = self.jwt.verify(token, audience=self.policy.audience, issuer=self.policy.issuer)
        session_id = str(claims.get("sid", ""))
        if not session_id:
            raise Unauthorized()
        return Principal(user_id=str(claims["sub"]), session_id=session_id, pending=PendingSession(session_id),
                         verified=claims.get("cv") is True)

    def confirm_session(self, principal: Principal) -> None:
        """Unauthorized unless the principal's login is active (read, unless confirmed already)."""
        if principal.pending and principal.pending.confirmed:
            return
        if not principal.session_id or not self.sessions.is_active(principal.session_id, int(self.now())):
            raise Unauthorized()
        if principal.pending:
            principal.pending.confirmed = True

    def require_verified(self, principal: Principal) -> None:
        """VerificationRequired unless the account has a verified e-mail or phone now. Asked
        only for tokens whose `cv` claim says it had none when they were issued (its next
        refresh then carries `cv`): verified accounts pay no read for it."""
        user = self.users.get(principal.user_id)
        if user is None or not has_verified_contact(user):
            raise VerificationRequired()

    # -- profile and password -----------------------------------------------------------------
    def profile(self, user_id: str) -> Profile:
        user = self.users.get(user_id)
        if user is None:
            raise NotFound()
        return decrypted_profile(user, self.cipher)

    def change_password(self, user_id: str, current: str, new: str, otp: Any = None, *,
                        session_id: str | None = None) -> None:
        """Every login ends (its sockets closed), this one too, and every device token stops
        being trusted (the auth epoch moves on). Wrong current passwords count for the calling
        login (`session_id`: services.sessions.SessionPasswords), never the pool that strangers'
        logins fill nor the device's logins: nobody else can block the owner's password change."""
        # Each pass reads the account and the login afresh: a reset, another change, a "sign out
        # everywhere else" or this login's ending landing in between (during bcrypt) makes the
        # write, conditioned on the epoch read and on the login, refuse rather than undo it
        # (review 26b, E, H).
        for _ in range(3):
            user, session = self._current_login(user_id, session_id)
            if not self.session_passwords.check(user_id, session_id, partial(self.hasher.verify, current,
                                                                             user.password_hash)):
                raise InvalidCredentials("The current password is not correct.")
            if user.mfa_enabled:
                self.mfa.require(user_id, otp, session_id=session_id)
            check_password(new, field="new_password")
            if self.users.move_auth_epoch(user_id, user.auth_epoch, session_id=session.session_id,
                                          keep=self._kept_device(user, session), password_hash=self.hasher.hash(new)):
                self.logins.end_all(user_id)
                return
        raise Conflict("The account changed concurrently; try again.")

    # -- the account's logins -----------------------------------------------------------------
    def sessions_of(self, principal: Principal) -> list[SessionView]:
        return self.logins.of(principal.user_id, principal.session_id)

    def end_session(self, principal: Principal, session_id: str) -> None:
        """End one of the caller's logins (their own current one too); NotFound for anyone else's."""
        self.logins.end_one(principal.user_id, session_id)

    def end_other_sessions(self, principal: Principal) -> None:
        """End every other login, also those the by-user index does not list yet: the auth epoch
        moves on (so device tokens issued before stop being trusted too, but the caller's), and
        the caller's own login, alone, is carried over to it in the same transaction. Only a
        current login may: one that a reset or another such change ended, or that signed in
        under an older epoch (its access token still lives a few minutes), is ended and refused
        (review 26b, A); the write is conditioned on the epoch read and on the login still being
        active and current, so nothing that lands in between (a reset, a DELETE of this login)
        is undone (B, F, G)."""
        for _ in range(3):
            user, session = self._current_login(principal.user_id, principal.session_id)
            if self.users.move_auth_epoch(user.user_id, user.auth_epoch, session_id=session.session_id,
                                          keep=self._kept_device(user, session)):
                self.logins.end_all(user.user_id, keep=session.session_id)
                return
        raise Conflict("The account changed concurrently; try again.")

    def _current_login(self, user_id: str, session_id: str | None) -> tuple[User, Session]:
        """The account and the caller's login, if that login is live and signed in under the
        account's current auth epoch; else Unauthorized, and a stale login is ended."""
        user = self.users.get(user_id)
        session = self.sessions.get(session_id) if session_id else None
        if user is None or not can_sign_in(user) or session is None or session.user_id != user_id:
            raise Unauthorized()
        if not session.active_at(int(self.now())) or session.auth_epoch < user.auth_epoch:
            self.logins.end(user_id, [session.session_id])
            raise Unauthorized()
        return user, session

    @staticmethod
    def _kept_device(user: User, session: Session) -> KeptDevice | None:
        """The device of the (current) login making an auth-epoch bump, whose token the bump
        carries over (services.devices): its token was issued when it signed in, or, if an
        earlier bump already carried this device over, maybe before."""
        if not session.device_key:
            return None
        since = session.auth_epoch
        if user.kept_device is not None and user.kept_device.key == session.device_key:
            since = min(since, user.kept_device.since)
        return KeptDevice(key=session.device_key, since=since)

    # -- social sign-in -----------------------------------------------------------------------
    def social_sign_in(self, who: SocialSignIn) -> tuple[TokenPair, bool]:
        """Sign in with what a verified ID token says: (tokens, whether the account was created).

        A provider-verified e-mail that matches an account whose e-mail is verified links the
        provider to it (its owner proved the address before; the password and logins stay). One
        that matches an account whose e-mail nobody ever proved never enters it: whoever
        registered it may be someone else, waiting with a phone, 2FA or a payout account of
        theirs for the owner to arrive (pre-account hijacking, docs/account-safety.md). That
        account is closed, its address released, and the sign-in gets a new account.

        Either way the provider's (normalized) address must be the account's stored address,
        compared in canonical form (`_holds_address`), not merely find the account through the
        identity item: otherwise the sign-in neither links nor closes anything and is refused
        (409 email_taken; the address is not free for a new account). Its owner signs in with
        the password (or resets it: the code goes to the stored address).
        """
        subject_key = f"{who.provider}#{who.subject}"
        email = normalize_email(who.verified_email) if who.verified_email is not None else None
        # Each pass settles one race (a concurrent first sign-in, a registration, a verification)
        # or one stale item, then looks again.
        for _ in range(4):
            user_id = self.users.user_id_for(subject_key)
            if user_id:
                user = self.users.get(user_id)
                if user is not None and can_sign_in(user):
                    return self._provider_session(user), False
                # A closed account never signs in again: its link is stale, free it.
                self.users.release(subject_key, user_id)
                continue
            if email:
                existing = self.users.user_id_for(self._identity_key(email_lookup_key(email)))
                owner = self.users.get(existing) if existing else None
                if owner is not None and not self._holds_address(owner, email):
                    # The key matches but the account's own address is another mailbox (an
                    # identity item keyed by an older rule, a collision): never link, never
                    # close; the address is not free for a new account either
                    # (docs/account-safety.md).
                    raise EmailTaken("An account with this e-mail address already exists; sign in to it "
                                     "with its password to use this provider.")
                if owner is not None and owner.email_verified:
                    if self.users.link(subject_key, owner.user_id, rfc3339(self.now())) == owner.user_id:
                        return self._provider_session(owner), False
                    continue  # the subject was linked to another account meanwhile: sign in there
                if owner is not None:
                    # False if its e-mail was verified meanwhile: the next pass links to it.
                    self.closing.close(owner, phone_too=False)
                    continue
            try:
                user = self._create_social_user(subject_key, email, who)
                if email:
                    self.deliver(self._identity_key(email_lookup_key(email)), user.user_id)
                return self._start_session(user), True
            except (EmailTaken, Conflict):
                continue
        raise Conflict("The account changed concurrently; try again.")

    def _holds_address(self, user: User, email: str) -> bool:
        """Whether the account's stored address is `email` (both normalized): compared in the
        canonical form itself (`email_lookup_key`: the IDNA domain exactly, an ASCII local part
        without its case), not through the blind-index item, so the item alone never decides
        that a provider's address is an account's. The case of an ASCII local part is not
        compared: phones capitalize "Alice@" as it is typed, and providers send it lowercased."""
        if not user.email_ct:
            return False
        return email_lookup_key(self.cipher.decrypt(user.email_ct, user.user_id, "email")) == email_lookup_key(email)

    @cached_property
    def closing(self) -> AccountClosing:
        """Closing accounts nobody proved owning; their logins end like any other's."""
        return AccountClosing(self.users, self.cipher, self.blind_index, self.logins.end_all,
                              holds_money=self.holds_money, now=self.now)

    def _provider_session(self, user: User) -> TokenPair:
        """A provider sign-in into an existing account: it carries no device token, so it is
        news for the owner (`security.new_sign_in`) unless it is the account's first sign-in."""
        return self._start_session(user, new_device=self._announced(user, int(self.now())))

    def _create_social_user(self, subject_key: str, email: str | None, who: SocialSignIn) -> User:
        created = rfc3339(self.now())
        # Without a provider-verified e-mail nothing about it is proven yet (closed in 7 days).
        # Its creation is its first sign-in: the next provider sign-in is news for the owner.
        names = {"email": email, "first_name": who.given_name, "last_name": who.family_name}
        user = new_user(self.cipher, names, created_at=created, email_verified=email is not None,
                        unverified_since=None if email else int(self.now()), signed_in_at=created)
        email_keys = [self._identity_key(email_lookup_key(email))] if email else []
        # The provider verified the e-mail: it is a payment address from the start.
        self.users.create(user, [subject_key, *email_keys], default_wallet(user, self.default_currency),
                          verified=tuple(email_keys))
        return user
