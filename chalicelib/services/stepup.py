"""Step-up: a fresh proof before the actions that would let whoever holds a login keep the account.

Turning 2FA on, changing the phone, opening or changing the payout account and registering an
offline device each give their author a lasting hold on the account (the owner's password
change, reset and 2FA-off would then need the thief's code; withdrawals would reach the thief's
bank). An access token alone is only a session, which can be stolen; these actions also need
what the owner knows (docs/account-safety.md, OWASP ASVS V2.2 / V3.7):

- 2FA on: `otp`, a current TOTP code or an unused recovery code (the same checks as every
  sensitive action: services.mfa). Wrong ones count for the session, like wrong passwords:
  the fifth ends it (401), and no count of them ever locks the owner's other logins or reset.
  A password alone is not enough.
- else: `password`. Wrong ones count for the session (services.sessions.SessionPasswords): the
  fifth in 15 minutes ends it (401), so a thief cannot guess without limit, and cannot lock
  the owner's device out of logging in either (the session carries that device's key).
- an account without a password and without 2FA (made by a social sign-in) has nothing to type:
  403 `reauth_required`, saying to set a password first (the reset: its e-mail is verified). A
  recent provider sign-in is no proof: the access token of one is exactly what a thief holds.
"""
from __future__ import annotations

from dataclasses import dataclass
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
from chalicelib.domain.user import User
from chalicelib.services.sessions import SessionPasswords


class Accounts(Protocol):
    def get(self, user_id: str) -> User | None: ...


class Passwords(Protocol):
    def verify(self, password: str, hashed: str | None) -> bool: ...


class OneTimeCodes(Protocol):
    def check(self, user: User, otp: Any, *, session_id: str | None = None) -> None:
        """Raise MfaRequired / MfaInvalid unless `otp` is a fresh code of the user; wrong ones
        count for the login `session_id` (services.mfa)."""


@dataclass
class StepUp:
    users: Accounts
    hasher: Passwords
    mfa: OneTimeCodes
    passwords: SessionPasswords  # wrong passwords, counted per session

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
                self.mfa.check(user, otp, session_id=principal.session_id)
            except MfaRequired:
                raise ReauthRequired() from None
            except (MfaInvalid, MfaNotEnrolled):
                raise ReauthInvalid() from None
            return
        hashed = user.password_hash
        if not hashed:
            raise ReauthRequired("This account has no password yet: set one first (POST /auth/password/forgot, "
                                 "then /auth/password/reset), then send it (password).")
        if not password:
            raise ReauthRequired("Confirm it is you: send your password (password).")
        if not self.passwords.check(user.user_id, principal.session_id, lambda: self.hasher.verify(password, hashed)):
            raise ReauthInvalid("The password is not correct.")
