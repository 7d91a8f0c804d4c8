"""TOTP two-factor authentication, and `require`, the check every sensitive action calls.

A code is accepted at most once: the time step it belongs to is recorded with a conditional write
(`totp_last_step < step`), so a replay, even a concurrent one, fails. Recovery codes are stored as
keyed hashes and removed, conditionally, when used.
"""
from __future__ import annotations

import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import (
    Conflict,
    MfaAlreadyEnabled,
    MfaInvalid,
    MfaNotEnrolled,
    MfaRequired,
    NotFound,
)
from chalicelib.domain.user import User
from chalicelib.services.lockout import Lockout
from chalicelib.services.ports import FieldCipher
from chalicelib.services.sessions import SessionPasswords

ISSUER = "E-wallet"
STEP = 30
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud and typed by people
_TOTP = re.compile(r"^[0-9]{6}$")  # ASCII digits only: \d would also match other scripts' digits


def _normalize_otp(otp: Any) -> str | None:
    if otp is None:
        return None
    value = f"{otp:06d}" if isinstance(otp, int) and not isinstance(otp, bool) else str(otp)
    value = value.strip().replace(" ", "")
    # Codes are ASCII (digits, or the recovery alphabet and a dash); anything else can match
    # nothing, and is refused like any wrong code rather than reaching the comparison.
    if value and (not value.isascii() or not value.isprintable()):
        return "!"
    return value or None


def reset_counter(user_id: str) -> str:
    """Wrong codes typed in a password reset (which needs the e-mail code first): a counter of
    their own, which no login's guesses fill."""
    return f"otp#reset#{user_id}"


@dataclass
class Enrollment:
    secret: str
    otpauth_uri: str


@dataclass
class Mfa:
    users: Any
    cipher: FieldCipher
    lockout: Lockout
    code_hash: Callable[[str], str]  # keyed hash for recovery codes (the blind index)
    now: Callable[[], float] = time.time
    # Wrong codes typed inside a login count for that login (and end it at the fifth), with its
    # wrong passwords: services.sessions.SessionPasswords. Never one counter per account that a
    # session thief could fill to lock the owner out (docs/account-safety.md).
    sessions: SessionPasswords | None = None

    def _user(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise NotFound()
        return user

    def enroll(self, user_id: str) -> Enrollment:
        import pyotp

        user = self._user(user_id)
        if user.mfa_enabled:
            raise MfaAlreadyEnabled()
        secret = pyotp.random_base32()
        if not self.users.set_pending_totp(user_id, self.cipher.encrypt(secret, user_id, "totp_secret")):
            raise MfaAlreadyEnabled()
        label = self.cipher.decrypt(user.email_ct, user_id, "email") if user.email_ct else user_id
        return Enrollment(secret, pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=ISSUER))

    def confirm(self, user_id: str, otp: Any, *, session_id: str | None = None) -> list[str]:
        """Turn 2FA on with a valid code for the pending secret; the new recovery codes."""
        user = self._user(user_id)
        if user.mfa_enabled:
            raise MfaAlreadyEnabled()
        if not user.totp_pending_ct:
            raise MfaNotEnrolled("Start enrollment with POST /me/mfa/totp first.")
        code = _normalize_otp(otp)
        if code is None:
            raise MfaRequired()
        now = int(self.now())
        pending = user.totp_pending_ct
        found: list[int] = []

        def matches() -> bool:
            step = self._matching_step(self.cipher.decrypt(pending, user_id, "totp_secret"), code, now)
            found.extend([] if step is None else [step])
            return step is not None

        key = self._count(user_id, session_id, None, matches)
        step = found[0]
        codes = [self._recovery_code() for _ in range(RECOVERY_CODES)]
        hashes = {self._hash_code(user_id, c) for c in codes}
        if not self.users.enable_totp(user_id, pending, step, hashes):
            raise Conflict("Enrollment changed meanwhile; start again.")
        if key:
            self.lockout.succeeded(key)
        return codes

    def disable(self, user_id: str, otp: Any, *, session_id: str | None = None) -> None:
        self.require(user_id, otp, session_id=session_id)
        if not self.users.disable_totp(user_id):
            raise MfaNotEnrolled()

    def require(self, user_id: str, otp: Any, *, session_id: str | None = None, counter: str | None = None) -> None:
        """The second-factor check of a sensitive action: a fresh TOTP code or an unused recovery code.

        Where wrong codes count: inside a login (`session_id`), for that login, which the fifth
        ends (401); outside one, under `counter` (the reset: `reset_counter`). Only a caller with
        neither falls back to the account's own counter (`otp#<user>`)."""
        self.check(self._user(user_id), otp, session_id=session_id, counter=counter)

    def check(self, user: User, otp: Any, *, session_id: str | None = None, counter: str | None = None) -> None:
        """`require` for an account read already (step-up reads it for its own rules)."""
        if not user.mfa_enabled or not user.totp_secret_ct:
            raise MfaNotEnrolled()
        code = _normalize_otp(otp)
        if code is None:
            raise MfaRequired()
        now = int(self.now())
        key = self._count(user.user_id, session_id, counter, lambda: self._accept(user, code, now))
        if key is not None:
            self.lockout.succeeded(key)

    def _count(self, user_id: str, session_id: str | None, counter: str | None,
               correct: Callable[[], bool]) -> str | None:
        """Count one try of a code and run `correct()`; raise MfaInvalid if it failed. The
        lockout key to clear on success (None: the login's counter, cleared already)."""
        if session_id and counter is None and self.sessions is not None:
            if not self.sessions.check(user_id, session_id, correct):
                raise MfaInvalid()
            return None
        key = counter or f"otp#{user_id}"
        self.lockout.attempt(key, int(self.now()))
        if not correct():
            raise MfaInvalid()
        return key

    def _accept(self, user: User, code: str, now: int) -> bool:
        if _TOTP.match(code):
            secret = self.cipher.decrypt(user.totp_secret_ct or "", user.user_id, "totp_secret")
            step = self._matching_step(secret, code, now)
            return step is not None and self.users.use_totp_step(user.user_id, step)
        return self.users.use_recovery_code(user.user_id, self._hash_code(user.user_id, code))

    @staticmethod
    def _matching_step(secret: str, code: str, now: int) -> int | None:
        import pyotp

        totp, current = pyotp.TOTP(secret), now // STEP
        # One step of clock drift either way, as RFC 6238 recommends.
        for step in (current - 1, current, current + 1):
            if hmac.compare_digest(totp.generate_otp(step).encode(), code.encode()):
                return step
        return None

    def _hash_code(self, user_id: str, code: str) -> str:
        return self.code_hash(f"recovery:{user_id}:{code.lower().replace('-', '')}")

    @staticmethod
    def _recovery_code() -> str:
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        return f"{raw[:5]}-{raw[5:]}"
