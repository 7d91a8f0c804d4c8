"""Notifications: made from table changes, kept in an inbox, pushed live (guarantee 13).

The `notifications` Lambda reads the streams of the tables that notify someone; each change
goes through the fan-out rules (domain.notification) and each notice becomes one stored
notification, whose id makes a replayed or reordered record a no-op. Only a newly stored one
is pushed, as a text frame, to every open WebSocket connection of its user; a connection that is
gone is forgotten. A push is best effort: the inbox is the record, and the batch never fails
because a phone went offline.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib import observability
from chalicelib.domain.errors import Unauthorized
from chalicelib.domain.ids import rfc3339
from chalicelib.domain.messages import Message, new_sign_in
from chalicelib.domain.notification import (
    EMAILED,
    TTL_SECONDS,
    Change,
    Notice,
    Notification,
    notices_for,
    notification_id,
)
from chalicelib.domain.results import NotificationPageView, NotificationView
from chalicelib.domain.wallet import Transfer
from chalicelib.services.people import People

log = logging.getLogger(__name__)

CONNECTION_TTL = 3 * 3600  # API Gateway closes a WebSocket after 2 hours; the TTL sweeps leftovers


class Inbox(Protocol):
    def add(self, n: Notification, expires_at: int) -> bool:
        """Store a new notification; False if it is stored already (same id)."""

    def page(self, user_id: str, unread: bool, limit: int, cursor: str | None
             ) -> tuple[list[Notification], str | None]: ...

    def unread_count(self, user_id: str) -> int: ...

    def mark_read(self, user_id: str, notification_id: str) -> None:
        """NotFound for no such notification of this user."""

    def read_all(self, user_id: str) -> int: ...


class Connections(Protocol):
    def add(self, connection_id: str, user_id: str, session_id: str, connected_at: int, expires_at: int) -> None: ...

    def remove(self, connection_id: str) -> None: ...

    def of_user(self, user_id: str) -> list[tuple[str, str]]:
        """(connection id, the session that opened it) of each open connection of the user."""


class Pusher(Protocol):
    def send(self, connection_id: str, data: bytes) -> bool:
        """Deliver one text frame; False if the connection is gone."""

    def close(self, connection_id: str) -> bool:
        """Close the connection; False if it was gone already."""


def view(n: Notification) -> NotificationView:
    return {"notification_id": n.notification_id, "type": n.type, "read": n.read,
            "created_at": rfc3339(n.created_ms / 1000), "data": n.data}


@dataclass
class Notifications:
    inbox: Inbox
    connections: Connections
    people: Callable[[], People]  # a fresh one per batch: names are read once per batch
    transfer: Callable[[str], Transfer | None]  # who sent a transfer (the counterparty of a receipt)
    # An access token's principal (`user_id`, `session_id`), or Unauthorized: the HTTP check.
    verify: Callable[[str], Any] | None = None
    # Whether a login is still live: a connection outlives neither a logout nor a password reset.
    session_live: Callable[[str], bool] = lambda session_id: True
    pusher: Pusher | None = None
    # E-mails an account at its verified address (services.sending.email_account): security
    # notices go there too, best effort like a push.
    mail: Callable[[str, Message], bool] | None = None
    now: Callable[[], float] = time.time
    _last_ms: int = field(default=0, init=False, repr=False)

    # -- from the stream ------------------------------------------------------------------------
    def handle(self, changes: Iterable[Change]) -> int:
        """Make the notifications of a batch of changes; the number newly stored. A storage
        error fails the batch (the stream delivers it again; what was stored stays once)."""
        people, made = self.people(), 0
        for change in changes:
            try:
                notices = notices_for(change)
            except (KeyError, TypeError, ValueError):
                # A record the rules cannot read will never read better: count it, skip it,
                # rather than block its shard behind it forever.
                log.error("unreadable %s change skipped", change.table)
                observability.count("NotificationSkipped")
                continue
            for notice in notices:
                made += self._notify(notice, self._clock_ms(), people)
        return made

    def _clock_ms(self) -> int:
        """When a notification is made: the handler's clock in ms, strictly rising within this
        container so a batch keeps its stream order. Not the stream record's time: DynamoDB
        Local gives it to the minute (AWS to the second), too coarse to order an inbox."""
        self._last_ms = max(int(self.now() * 1000), self._last_ms + 1)
        return self._last_ms

    def _notify(self, notice: Notice, at_ms: int, people: People) -> int:
        counterparty = notice.counterparty
        if counterparty is None and notice.type in ("transfer.received", "offline.redeemed"):
            t = self.transfer(notice.subject)  # who sent it, or (a redeemed voucher) who was paid
            other = (t.from_owner if notice.type == "transfer.received" else t.to_owner) if t is not None else ""
            counterparty = other if other.startswith("usr_") else None
            if counterparty == notice.recipient:
                return 0  # between one's own wallets: nothing to tell
        data = {**notice.data, "counterparty": people.party(counterparty) if counterparty else None}
        if notice.type in EMAILED:
            data = dict(notice.data)  # about the account itself: nobody else is involved
        n = Notification(notice.recipient, notification_id(notice.type, notice.subject, notice.recipient),
                         notice.type, at_ms, data)
        if not self.inbox.add(n, at_ms // 1000 + TTL_SECONDS):
            return 0  # told already: a replayed or repeated change
        try:
            self.push(n)
        except Exception as exc:  # noqa: BLE001 - best effort: stored already, so never retried
            log.warning("push failed: %s", type(exc).__name__)
            observability.count("NotificationPushFailed")
        if n.type in EMAILED:
            self._email(n)
        return 1

    def _email(self, n: Notification) -> None:
        """Only for a newly stored notification: a replayed change sends no second e-mail."""
        if self.mail is None:
            return
        try:
            self.mail(n.user_id, new_sign_in(str(n.data.get("signed_in_at")), n.data.get("user_agent")))
        except Exception as exc:  # noqa: BLE001 - best effort: the inbox holds it
            log.warning("security e-mail failed: %s", type(exc).__name__)
            observability.count("SecurityEmailNotSent")

    def push(self, n: Notification) -> int:
        """Send to every open connection of the user whose login is still live; the number
        reached. Connections that are gone, or whose session ended, are forgotten."""
        if self.pusher is None:
            return 0
        frame = json.dumps({"type": "notification", "notification": view(n)}).encode()
        reached = 0
        for connection_id, session_id in self.connections.of_user(n.user_id):
            try:
                if not self.session_live(session_id):
                    self.connections.remove(connection_id)  # logged out or reset since it connected
                elif self.pusher.send(connection_id, frame):
                    reached += 1
                else:
                    self.connections.remove(connection_id)  # closed without telling us
            except Exception as exc:  # noqa: BLE001 - best effort: the inbox holds it
                log.warning("push failed: %s", type(exc).__name__)
                observability.count("NotificationPushFailed")
        return reached

    # -- the inbox ------------------------------------------------------------------------------
    def list(self, user_id: str, unread: bool, limit: int, cursor: str | None) -> NotificationPageView:
        items, next_cursor = self.inbox.page(user_id, unread, limit, cursor)
        return {"items": [view(n) for n in items], "next_cursor": next_cursor,
                "unread_count": self.inbox.unread_count(user_id)}

    def mark_read(self, user_id: str, notification_id: str) -> None:
        self.inbox.mark_read(user_id, notification_id)

    def read_all(self, user_id: str) -> int:
        return self.inbox.read_all(user_id)

    # -- live connections -----------------------------------------------------------------------
    def connect(self, connection_id: str, token: str | None) -> bool:
        """Accept a WebSocket connection only with a valid access token (checked like every
        HTTP route's: signature, expiry, live session); remember whose it is."""
        if not token or self.verify is None:
            return False
        try:
            principal = self.verify(token)
        except Unauthorized:
            return False
        now = int(self.now())
        self.connections.add(connection_id, str(principal.user_id), str(principal.session_id), now,
                             now + CONNECTION_TTL)
        return True

    def disconnect(self, connection_id: str) -> None:
        self.connections.remove(connection_id)

    def close_sessions(self, user_id: str, session_ids: Collection[str]) -> int:
        """Close every open connection that these logins of the user opened (they were just
        revoked) and forget it; the number closed. Best effort, each on its own: one stuck
        connection does not keep the others open, and a push would drop it anyway."""
        closed = 0
        for connection_id, session_id in self.connections.of_user(user_id):
            if session_id not in session_ids:
                continue
            try:
                if self.pusher is not None and self.pusher.close(connection_id):
                    closed += 1
                self.connections.remove(connection_id)
            except Exception as exc:  # noqa: BLE001 - best effort: the session check refuses it anyway
                log.warning("close failed: %s", type(exc).__name__)
                observability.count("ConnectionCloseFailed")
        return closed
