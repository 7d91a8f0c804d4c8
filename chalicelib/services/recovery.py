"""Account recovery: a forgotten password is reset with a code sent to the account's e-mail.

No account enumeration: `forgot` answers the same, in about the same time, whether or not the
e-mail has an account. Even the stored state is the same: a code is issued (and rate-limited,
tried and burned) for an unknown e-mail too; it is simply never sent, so `reset` answers an
unknown e-mail exactly like a wrong code, and `code_expired` after five tries for both.
Resetting proves the e-mail, so it also verifies it; that is how an account whose password was
cleared (linked to a provider) or never set (social sign-in) gets one.

A reset that proves an e-mail nobody had proved before does not hand over the account holding
it: whoever registered it may be someone else, who verified a phone of theirs, set a payout
account, offline devices or 2FA, waiting for the owner (pre-account hijacking,
docs/account-safety.md). Like a provider sign-in (services.identity), it closes that account,
conditioned on its e-mail still being unverified (its 2FA is not asked: it is not the owner's),
and opens a fresh one for the e-mail, verified, with the new password; the code is used up in
the same transaction. Money that account holds stays in its wallets, closed, for operators
(services.closing): never the new account's.

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
from typing import Any, Protocol

from chalicelib.domain import messages
from chalicelib.domain.contact import email_lookup_key, identity_key, normalize_email
from chalicelib.domain.errors import Conflict, EmailTaken, InvalidCode, TooManyRequests
from chalicelib.domain.ids import rfc3339
from chalicelib.domain.passwords import check_password
from chalicelib.domain.user import CodeProof, NewWallet, User
from chalicelib.domain.verification import RESET_TTL, Purpose
from chalicelib.services import sending
from chalicelib.services.closing import AccountClosing, ClosableUsers
from chalicelib.services.codes import OneTimeCodes
from chalicelib.services.contacts import Deliver
from chalicelib.services.identity import default_wallet, new_user
from chalicelib.services.lockout import Lockout, untrusted_key
from chalicelib.services.mfa import reset_counter
from chalicelib.services.ports import Clock, Contacts, FieldCipher, Messenger, SecondFactor
from chalicelib.services.sessions import CloseConnections, Logins, no_connections


class RecoveryUsers(Contacts, ClosableUsers, Protocol):
    def create(self, user: User, identities: list[str], wallet: NewWallet, *, verified: tuple[str, ...] = (),
               absent: tuple[str, ...] = (), proof: CodeProof | None = None) -> None: ...


@dataclass
class Recovery:
    users: RecoveryUsers
    sessions: Any
    codes: OneTimeCodes
    messenger: Messenger
    hasher: Any
    mfa: SecondFactor
    blind_index: Callable[[str], str]
    send_limit: Lockout  # codes per e-mail per hour
    login_lockout: Lockout
    deliver: Deliver
    cipher: FieldCipher  # a fresh account's e-mail, when a reset takes an address back
    default_currency: str
    # Every `forgot` takes at least this long, so the time of the answer does not tell whether
    # an e-mail went out (the SES call is the only work an unknown e-mail does not do).
    floor_seconds: float = 0.4
    now: Clock = time.time
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    # Closes the WebSockets of the logins a reset ends (services.notifications).
    close_connections: CloseConnections = no_connections
    # Whether an account holds money: one a reset closes is reported to operators.
    holds_money: Callable[[str], bool] = lambda user_id: False

    @cached_property
    def logins(self) -> Logins:
        return Logins(self.sessions, self.close_connections, self.now)

    @cached_property
    def closing(self) -> AccountClosing:
        return AccountClosing(self.users, self.cipher, self.blind_index, self.logins.end_all,
                              holds_money=self.holds_money, now=self.now)

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
            user_id = self.users.user_id_for(key)
            user = self.users.get(user_id) if user_id else None
            if user is not None and user.email_ct:
                # The code goes to the account's own address, never to the one typed: the two
                # share a look-up key, and the key must never be the only thing that decides
                # whose mailbox gets a code that takes the account (docs/account-safety.md).
                # A failed send answers like an unknown e-mail, too.
                stored = self.cipher.decrypt(user.email_ct, user.user_id, "email")
                sending.send(self.messenger, "email", stored, messages.password_reset(code, RESET_TTL // 60),
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
        # Each pass settles one race (a verification, a registration of the address just
        # released), then looks again.
        for _ in range(4):
            user_id = self.users.user_id_for(key)
            user = self.users.get(user_id) if user_id else None
            if user is None:
                raise InvalidCode()
            if not user.email_verified:
                try:
                    owner = self._take_back(user, email, key, new_password, proof)
                except EmailTaken:
                    continue  # registered again between the closing and the opening
                if owner is None:
                    continue  # verified meanwhile: an ordinary reset
            else:
                owner = user.user_id
                if user.mfa_enabled:
                    # A counter of its own: no login's wrong codes lock the owner's reset.
                    self.mfa.require(owner, otp, counter=reset_counter(owner))
                self.users.confirm_email(owner, key, proof, password_hash=self.hasher.hash(new_password))
                self.logins.end_all(owner)  # and the auth epoch moved on with the password
            # The owner proved the e-mail: strangers' failed logins with it no longer hold her
            # new devices back (the counter is the e-mail's, whichever account now holds it).
            self.login_lockout.succeeded(untrusted_key(key))
            self.deliver(key, owner)
            return
        raise Conflict("The account changed concurrently; try again.")

    def _take_back(self, squatter: User, email: str, key: str, new_password: str, proof: CodeProof) -> str | None:
        """Close the account holding the never-proven e-mail and open a fresh one for it,
        verified, with the new password, using the code up; its id, or None if the e-mail was
        verified meanwhile (the account then stays as it is)."""
        if not self.closing.close(squatter, phone_too=False):
            return None
        # The code went to the address the account held (forgot): that is the one proven.
        if squatter.email_ct:
            email = self.cipher.decrypt(squatter.email_ct, squatter.user_id, "email")
        user = new_user(self.cipher, {"email": email}, created_at=rfc3339(self.now()), email_verified=True,
                        password_hash=self.hasher.hash(new_password))
        self.users.create(user, [key], default_wallet(user, self.default_currency), verified=(key,), proof=proof)
        return user.user_id
