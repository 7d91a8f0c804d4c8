"""In-memory stand-ins for the notification ports (inbox, connections, push)."""
from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.errors import NotFound
from chalicelib.domain.notification import Notification


class FakeInbox:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Notification] = {}
        self.expires: dict[str, int] = {}

    def add(self, n: Notification, expires_at: int) -> bool:
        if (n.user_id, n.notification_id) in self.items:
            return False
        self.items[(n.user_id, n.notification_id)] = n
        self.expires[n.notification_id] = expires_at
        return True

    def of(self, user_id: str) -> list[Notification]:
        return sorted((n for (u, _), n in self.items.items() if u == user_id),
                      key=lambda n: (n.created_ms, n.notification_id), reverse=True)

    def page(self, user_id: str, unread: bool, limit: int, cursor: str | None):
        mine = [n for n in self.of(user_id) if not (unread and n.read)]
        if cursor:
            mine = [n for n in mine if f"{n.created_ms:013d}#{n.notification_id}" < cursor]
        more = len(mine) > limit
        mine = mine[:limit]
        return mine, (f"{mine[-1].created_ms:013d}#{mine[-1].notification_id}" if more else None)

    def unread_count(self, user_id: str) -> int:
        return sum(1 for n in self.of(user_id) if not n.read)

    def mark_read(self, user_id: str, notification_id: str) -> None:
        n = self.items.get((user_id, notification_id))
        if n is None:
            raise NotFound()
        self.items[(user_id, notification_id)] = replace(n, read=True)

    def read_all(self, user_id: str) -> int:
        unread = [n for n in self.of(user_id) if not n.read]
        for n in unread:
            self.mark_read(user_id, n.notification_id)
        return len(unread)


class FakeConnections:
    def __init__(self) -> None:
        self.open: dict[str, tuple[str, str]] = {}  # connection id -> (user id, session id)

    def add(self, connection_id: str, user_id: str, session_id: str, connected_at: int, expires_at: int) -> None:
        self.open[connection_id] = (user_id, session_id)

    def remove(self, connection_id: str) -> None:
        self.open.pop(connection_id, None)

    def of_user(self, user_id: str) -> list[tuple[str, str]]:
        return [(c, s) for c, (u, s) in self.open.items() if u == user_id]


class FakePusher:
    def __init__(self, gone: set[str] | None = None, broken: set[str] | None = None) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.closed: list[str] = []
        self.gone, self.broken = gone or set(), broken or set()

    def send(self, connection_id: str, data: bytes) -> bool:
        if connection_id in self.broken:
            raise TimeoutError("slow client")
        if connection_id in self.gone:
            return False
        self.sent.append((connection_id, data))
        return True

    def close(self, connection_id: str) -> bool:
        if connection_id in self.broken:
            raise TimeoutError("slow client")
        self.closed.append(connection_id)
        return connection_id not in self.gone
