"""Logins (sessions) as their owner sees and ends them.

Ending a login is one rule wherever it happens (logout, a refresh token replayed, "sign out"
of one session or of every other, a password change or reset): its refresh tokens die, its
access tokens are refused at once (every request reads its session: services.identity), and
its open WebSockets are closed, not merely skipped at the next push, so a thief's live view of
the account ends with the login.

Ending them all (a reset, a password change, "sign out everywhere else", closing) also bumps the
account's auth epoch (domain.user.User.auth_epoch): a login stamped older is refused at its next
refresh, so one the by-user index did not list yet, or one that checked the old password while
the change happened, dies too. Its access token lives at most its 15 minutes.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import NoReturn, Protocol

from chalicelib import observability
from chalicelib.domain.errors import NotFound, TooManyRequests, Unauthorized
from chalicelib.domain.user import Session
from chalicelib.services.lockout import Lockout, session_failures_key
from chalicelib.services.ports import Clock

log = logging.getLogger(__name__)


class SessionStore(Protocol):
    def create(self, session: Session, created_at: str) -> None: ...

    def get(self, session_id: str) -> Session | None: ...

    def rotate(self, session_id: str, expected_current: str, new_hash: str, recent: list[str], now: int,
               retired: str | None = None) -> bool: ...

    def revoke(self, session_id: str) -> None:
        """Mark the login revoked (nothing if there is no such login)."""

    def live_of(self, user_id: str, now: int) -> list[Session]:
        """The user's logins still honoured at `now`."""

    def is_active(self, session_id: str, now: int) -> bool: ...


# Closes the open WebSockets these logins of the user opened (services.notifications).
CloseConnections = Callable[[str, Collection[str]], object]


def no_connections(user_id: str, session_ids: Collection[str]) -> None:
    return None


@dataclass(frozen=True)
class SessionView:
    session_id: str
    created_at: str
    last_used_at: str
    user_agent: str | None
    current: bool


@dataclass
class Logins:
    sessions: SessionStore
    close_connections: CloseConnections = no_connections
    now: Clock = time.time

    def of(self, user_id: str, current: str | None) -> list[SessionView]:
        """Every live login of the user, newest first; `current` marks the caller's."""
        now = int(self.now())
        live = {s.session_id: s for s in self.sessions.live_of(user_id, now)}
        if current and current not in live:
            # The by-user index is eventually consistent: the caller's own fresh login is read
            # by its key (the request got here, so it is live).
            mine = self.sessions.get(current)
            if mine is not None and mine.user_id == user_id and mine.active_at(now):
                live[current] = mine
        ordered = sorted(live.values(), key=lambda s: (s.created_at, s.session_id), reverse=True)
        return [SessionView(s.session_id, s.created_at, s.last_used_at or s.created_at, s.user_agent,
                            s.session_id == current) for s in ordered]

    def end(self, user_id: str, session_ids: Iterable[str]) -> None:
        """End these logins of the user (already ended ones stay ended) and close their sockets."""
        ids = list(dict.fromkeys(session_ids))
        for session_id in ids:
            self.sessions.revoke(session_id)
        if not ids:
            return
        try:
            self.close_connections(user_id, frozenset(ids))
        except Exception as exc:  # noqa: BLE001 - ended already: its sockets are refused at the next push
            log.warning("closing connections failed: %s", type(exc).__name__)
            observability.count("ConnectionCloseFailed")

    def end_one(self, user_id: str, session_id: str) -> None:
        """End one login of the user's; NotFound for another account's or no such login (an id
        alone tells nothing). Ending one that already ended is done."""
        session = self.sessions.get(session_id)
        if session is None or session.user_id != user_id:
            raise NotFound("No such session.")
        self.end(user_id, [session_id])

    def end_all(self, user_id: str, keep: str | None = None) -> list[str]:
        """End every live login of the user but `keep`; the ids ended."""
        ids = [s.session_id for s in self.sessions.live_of(user_id, int(self.now())) if s.session_id != keep]
        self.end(user_id, ids)
        return ids


# Wrong passwords typed inside one login (step-up, password change) before it is ended.
SESSION_PASSWORD_FAILURES = 5
SESSION_PASSWORD_WINDOW = 900


@dataclass(frozen=True)
class SessionPasswords:
    """The password typed again inside a login (step-up, `POST /me/password`).

    Wrong ones count for that login only: at the fifth in 15 minutes the login is ended (its
    tokens refused, its WebSockets closed) and the answer is 401, so whoever holds a stolen
    session gets five guesses, then has nothing left to guess with. Not the device's login
    counter: the session carries its device's key, and a thief's guesses would lock the owner's
    own device out of logging in (docs/account-safety.md).
    """

    lockout: Lockout
    end: Callable[[str, Collection[str]], object]  # Logins.end
    now: Clock = time.time

    def check(self, user_id: str, session_id: str | None, correct: Callable[[], bool]) -> bool:
        """Whether `correct()` (the password check) passed, counted for the login; Unauthorized,
        the login ended, at the limit."""
        key = session_failures_key(session_id)
        try:
            count = self.lockout.attempt(key, int(self.now()))  # counted before the check
        except TooManyRequests:
            self._end(user_id, session_id)
        if correct():
            self.lockout.succeeded(key)
            return True
        if count >= self.lockout.max_failures:
            self._end(user_id, session_id)
        return False

    def _end(self, user_id: str, session_id: str | None) -> NoReturn:
        if session_id:
            self.end(user_id, [session_id])
        raise Unauthorized("Too many wrong passwords or codes: this session has ended. Sign in again.")
