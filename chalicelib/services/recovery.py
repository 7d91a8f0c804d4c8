"""Account recovery: a forgotten password is reset with a code sent to the account's e-mail.

No account enumeration: `forgot` answers the same, in about the same time, whether or not the
e-mail has an account. Even the stored state is the same: a code is issued (and rate-limited,
tried and burned) for an unknown e-mail too; it is simply never sent, so `reset` answers an
unknown e-mail exactly like a wrong code, and `code_expired` after five tries for both.
Resetting proves the e-mail, so it also verifies it; that is how an account whose password was
cleared (linked to a provider) or never set (social sign-in) gets one.

Others' wrong guesses never block the owner: a code is burned after five wrong tries and a fresh
code always works. There is no lock per e-mail on top (one used to cap tries a day, and so let
anyone who knew the address refuse its owner's right code); guessing stays bounded by five
tries per code and five codes an hour (`forgot`), 1 in 40,000 an hour per six-digit code.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from chalicelib.domain import messages
from chalicelib.domain.contact import email_lookup_key, identity_key, normalize_email
from chalicelib.domain.errors import InvalidCode, TooManyRequests
from chalicelib.domain.passwords import check_password
from chalicelib.domain.verification import RESET_TTL, Purpose
from chalicelib.services import sending
from chalicelib.services.codes import OneTimeCodes
from chalicelib.services.contacts import Deliver
from chalicelib.services.lockout import Lockout, untrusted_key
from chalicelib.services.ports import Clock, Contacts, Messenger, SecondFactor
from chalicelib.services.sessions import CloseConnections, Logins, no_connections


@dataclass
class Recovery:
    users: Contacts
    sessions: Any
    codes: OneTimeCodes
    messenger: Messenger
    hasher: Any
    mfa: SecondFactor
    blind_index: Callable[[str], str]
    send_limit: Lockout  # codes per e-mail per hour
    login_lockout: Lockout
    deliver: Deliver
    # Every `forgot` takes at least this long, so the time of the answer does not tell whether
    # an e-mail went out (the SES call is the only work an unknown e-mail does not do).
    floor_seconds: float = 0.4
    now: Clock = time.time
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    # Closes the WebSockets of the logins a reset ends (services.notifications).
    close_connections: CloseConnections = no_connections

    @cached_property
    def logins(self) -> Logins:
        return Logins(self.sessions, self.close_connections, self.now)

    def forgot(self, email: str) -> None:
        email = normalize_email(email)  # a malformed address is a 400: that reveals nothing
        started = self.monotonic()
        try:
            key = identity_key(email_lookup_key(email), self.blind_index)
            try:
                self.send_limit.attempt(f"forgot#{key}", int(self.now()))
            except TooManyRequests:
                return  # still 202; nothing is sent
            code = self.codes.issue(Purpose.RESET, key, key, RESET_TTL)
            if self.users.user_id_for(key) is not None:
                # A failed send answers like an unknown e-mail, too.
                sending.send(self.messenger, "email", email, messages.password_reset(code, RESET_TTL // 60),
                             what="Code")
        finally:
            left = self.floor_seconds - (self.monotonic() - started)
            if left > 0:
                self.sleep(left)

    def reset(self, email: str, code: object, new_password: str, otp: Any = None) -> None:
        email = normalize_email(email)
        check_password(new_password, field="new_password")  # before a try of the code is spent
        key = identity_key(email_lookup_key(email), self.blind_index)
        proof = self.codes.check(Purpose.RESET, key, key, code, never_sent_is_wrong=True)
        user_id = self.users.user_id_for(key)
        user = self.users.get(user_id) if user_id else None
        if user is None:
            raise InvalidCode()
        if user.mfa_enabled:
            self.mfa.require(user.user_id, otp)
        self.users.confirm_email(user.user_id, key, proof, password_hash=self.hasher.hash(new_password))
        self.logins.end_all(user.user_id)
        # The owner proved the e-mail: strangers' failed logins no longer hold new devices back.
        self.login_lockout.succeeded(untrusted_key(user.user_id))
        self.deliver(key, user.user_id)
