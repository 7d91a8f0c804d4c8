"""Step-up: a fresh proof before the actions that would let whoever holds a login keep the account.

Turning 2FA on, changing the phone, opening or changing the payout account and registering an
offline device each give their author a lasting hold on the account (the owner's password
change, reset and 2FA-off would then need the thief's code; withdrawals would reach the thief's
bank). An access token alone is only a session, which can be stolen; these actions also need
what the owner knows (docs/account-safety.md, OWASP ASVS V2.2 / V3.7):

- 2FA on: `otp`, a current TOTP code or an unused recovery code (the same checks and OTP
  lockout as every sensitive action: services.mfa). A password alone is not enough.
- else: `password`. Wrong ones count as login failures of the session's device (the same
  counter as its logins: services.lockout), so a thief cannot guess without limit, and a
  stranger's failures elsewhere never lock the owner's device.
- an account without a password and without 2FA (made by a social sign-in) has nothing to type:
  a sign-in with its provider in the last `FRESH_SIGN_IN_SECONDS` is its proof (re-entering
  through Google or Facebook is what "confirm it is you" means for it), else 403
  `reauth_required` saying so. A refreshed token is not a fresh sign-in.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.errors import (
    MfaAlreadyEnabled,
    MfaInvalid,
    MfaNotEnrolled,
    MfaRequired,
    NotFound,
    ReauthInvalid,
    ReauthRequired,
)
from chalicelib.domain.principal import Principal
from chalicelib.domain.user import Session, User
from chalicelib.services.lockout import Lockout, device_failures_key
from chalicelib.services.ports import Clock

FRESH_SIGN_IN_SECONDS = 300


class Accounts(Protocol):
    def get(self, user_id: str) -> User | None: ...


class Passwords(Protocol):
    def verify(self, password: str, hashed: str | None) -> bool: ...


class OneTimeCodes(Protocol):
    def check(self, user: User, otp: Any) -> None:
        """Raise MfaRequired / MfaInvalid unless `otp` is a fresh code of the user (services.mfa)."""


class Logins(Protocol):
    def get(self, session_id: str) -> Session | None: ...


@dataclass
class StepUp:
    users: Accounts
    hasher: Passwords
    mfa: OneTimeCodes
    lockout: Lockout  # the login lockout: a device's failures (services.lockout.device_failures_key)
    sessions: Logins
    now: Clock = time.time

    def require(self, principal: Principal, password: str | None, otp: Any) -> User:
        """The caller's account, once the proof checks out (see the module docstring)."""
        user = self._account(principal)
        self.check(user, principal, password, otp)
        return user

    def before_enrollment(self, principal: Principal, password: str | None, otp: Any) -> None:
        """Turning 2FA on: 409 while it is on already (there is nothing to prove), else step-up."""
        user = self._account(principal)
        if user.mfa_enabled:
            raise MfaAlreadyEnabled()
        self.check(user, principal, password, otp)

    def _account(self, principal: Principal) -> User:
        user = self.users.get(principal.user_id)
        if user is None:
            raise NotFound()
        return user

    def check(self, user: User, principal: Principal, password: str | None, otp: Any) -> None:
        """`require` for an account read already. Raises ReauthRequired (no proof, or not the
        one this account needs), ReauthInvalid (a wrong one) or TooManyRequests (locked)."""
        if user.mfa_enabled:
            if otp is None or otp == "":
                raise ReauthRequired("Two-factor authentication is on: send a current code or an unused "
                                     "recovery code (otp); a password alone is not enough.")
            try:
                self.mfa.check(user, otp)
            except MfaRequired:
                raise ReauthRequired() from None
            except (MfaInvalid, MfaNotEnrolled):
                raise ReauthInvalid() from None
            return
        if not user.password_hash:
            if self._freshly_signed_in(principal):
                return
            raise ReauthRequired("This account has no password: sign in again with your provider and retry "
                                 "within 5 minutes, or set a password (POST /auth/password/forgot).")
        if not password:
            raise ReauthRequired("Confirm it is you: send your password (password).")
        key, now = device_failures_key(principal.device_key, principal.session_id), int(self.now())
        self.lockout.attempt(key, now)  # counted before the check, like every guess
        if not self.hasher.verify(password, user.password_hash):
            raise ReauthInvalid("The password is not correct.")
        self.lockout.succeeded(key)

    def _freshly_signed_in(self, principal: Principal) -> bool:
        session = self.sessions.get(principal.session_id) if principal.session_id else None
        if session is None or session.user_id != principal.user_id or not session.created_at:
            return False
        started = datetime.fromisoformat(session.created_at.replace("Z", "+00:00")).timestamp()
        return 0 <= self.now() - started <= FRESH_SIGN_IN_SECONDS
