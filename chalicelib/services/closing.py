"""Closing accounts nobody proved owning (pre-account hijacking, docs/account-safety.md).

Registration proves nothing about the e-mail address: anyone can register someone else's. Such
an account may only read, verify and manage its logins (the verification gate, api.auth), and it
is closed when its e-mail's real owner proves the address, by signing in with a provider
(services.identity) or by a password reset (services.recovery), or when nobody verified any of
its contacts within 7 days (`sweep`, a scheduled function). Closing is one transaction,
conditioned on the account still being unverified, so a verification and a closing that race
never both happen: status `closed` (no route signs it in again), its e-mail identity deleted
(the address is free for its owner) and any verified phone's too, and its auth epoch bumped (no
login or device token of it is honoured again); then its logins end.

Money is never moved by a closing: what a closed account holds stays in its own wallets, which
nobody can sign in to, for operators. The 7-day job leaves such accounts open (nobody is
waiting for the address); the owner proving the address closes them regardless, and the
closing is logged with the account's (opaque) id and counted (`ClosedAccountsHoldingMoney`).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from chalicelib import observability
from chalicelib.domain.contact import email_lookup_key, identity_key, phone_lookup_key
from chalicelib.domain.results import UnverifiedSwept
from chalicelib.domain.user import User
from chalicelib.services.ports import Clock, FieldCipher

log = logging.getLogger(__name__)

UNVERIFIED_DAYS = 7
BATCH = 200  # closings per run: the hourly schedule catches up with any backlog


class ClosableUsers(Protocol):
    def get(self, user_id: str) -> User | None: ...

    def close_unproven(self, user_id: str, release: list[str], *, phone_too: bool,
                       phone_ct: str | None, phone_verified: bool) -> bool:
        """Close the account and delete the `release` identity items in one transaction, if
        its e-mail (and, `phone_too`, its phone) is still unverified and its phone is still
        the one read (`phone_ct`, `phone_verified`); False if not."""

    def unverified_before(self, cutoff: int) -> Iterable[str]:
        """Accounts without a verified contact since before `cutoff`, oldest first."""


@dataclass
class AccountClosing:
    users: ClosableUsers
    cipher: FieldCipher
    blind_index: Callable[[str], str]
    # Ends every login of the account: refresh tokens, access tokens, open WebSockets.
    end_sessions: Callable[[str], object]
    # Whether the account holds money (a balance or a hold in any wallet). The 7-day closing
    # leaves those to operators, the others report them: a closed account cannot sign in to
    # move its money out.
    holds_money: Callable[[str], bool] = lambda user_id: False
    now: Clock = time.time
    max_age_seconds: int = UNVERIFIED_DAYS * 86400
    batch: int = BATCH

    def close(self, user: User, *, phone_too: bool) -> bool:
        """Close an account whose e-mail nobody proved (and, `phone_too`, its phone either) for
        the address's owner; False if one was proved meanwhile (then it stays as it is) or its
        phone changed since `user` was read (read it again and retry)."""
        if not self._close(user, phone_too=phone_too):
            return False
        if self.holds_money(user.user_id):
            log.warning("an account holding money was closed", extra={"user_id": user.user_id})
            observability.count("ClosedAccountsHoldingMoney")
        return True

    def _close(self, user: User, *, phone_too: bool) -> bool:
        # As read: a phone verified since would not be in the release list (the caller reads
        # the account again and retries).
        if not self.users.close_unproven(user.user_id, self._addresses(user), phone_too=phone_too,
                                         phone_ct=user.phone_ct, phone_verified=user.phone_verified):
            return False
        self.end_sessions(user.user_id)
        return True

    def _addresses(self, user: User) -> list[str]:
        """The identity items of the account's contacts: its e-mail (unique from registration)
        and its phone only if verified (an unverified phone has no item)."""
        keys = []
        if user.email_ct:
            email = self.cipher.decrypt(user.email_ct, user.user_id, "email")
            keys.append(identity_key(email_lookup_key(email), self.blind_index))
        if user.phone_ct and user.phone_verified:
            phone = self.cipher.decrypt(user.phone_ct, user.user_id, "phone")
            keys.append(identity_key(phone_lookup_key(phone), self.blind_index))
        return keys

    def sweep(self) -> UnverifiedSwept:
        """Close the accounts whose contacts stayed unverified for 7 days (oldest first, at
        most `batch` a run); those holding money are kept for operators and counted."""
        cutoff = int(self.now()) - self.max_age_seconds
        closed = kept = 0
        for user_id in self.users.unverified_before(cutoff):
            if closed >= self.batch:
                break
            user = self.users.get(user_id)
            if user is None or user.unverified_since is None or user.status == "closed":
                continue  # the index lags the table: verified (or closed) meanwhile
            if self.holds_money(user_id):
                kept += 1
                continue
            if self._close(user, phone_too=True):
                closed += 1
        observability.count("UnverifiedAccountsClosed", closed)
        if kept:
            # Opaque ids are in the index; operators find them there (docs/operations.md).
            log.warning("unverified accounts holding money were not closed", extra={"count": kept})
            observability.count("UnverifiedAccountsHoldingMoney", kept)
        return {"closed": closed, "kept": kept}
