"""The notifications inbox and the open WebSocket connections, on DynamoDB."""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.adapters.dynamodb import cursors
from chalicelib.adapters.dynamodb.errors import condition_failed
from chalicelib.adapters.dynamodb.models import ConnectionRecord, NotificationRecord
from chalicelib.domain.errors import NotFound
from chalicelib.domain.notification import Notification
from chalicelib.services.ports import FieldCipher

_SK = re.compile(r"[0-9]{13}#ntf_[0-9a-f]{32}")
FIELD = "notification"  # encryption context of a notification's data (bound to its user)


def _conditional(exc: Exception) -> bool:
    return condition_failed(exc)


def _sk(n: Notification) -> str:
    return f"{n.created_ms:013d}#{n.notification_id}"


class DynamoNotifications:
    def __init__(self, cipher: Callable[[], FieldCipher]) -> None:
        self._cipher = cipher  # made on first use: a function that only lists connections needs no key

    @property
    def cipher(self) -> FieldCipher:
        return self._cipher()

    def add(self, n: Notification, expires_at: int) -> bool:
        """Store a new notification; False if this one (same id) is stored already."""
        sk = _sk(n)
        record = NotificationRecord(n.user_id, n.notification_id, type=n.type, created_sk=sk, unread_sk=sk,
                                    data_ct=self.cipher.encrypt(json.dumps(n.data), n.user_id, FIELD),
                                    expires_at=expires_at)
        try:
            record.save(condition=NotificationRecord.notification_id.does_not_exist())
        except PutError as exc:
            if _conditional(exc):
                return False
            raise
        return True

    def _notification(self, r: NotificationRecord) -> Notification:
        return Notification(user_id=r.user_id, notification_id=r.notification_id, type=r.type,
                            created_ms=int(r.created_sk.split("#", 1)[0]),
                            data=json.loads(self.cipher.decrypt(r.data_ct, r.user_id, FIELD)),
                            read=r.unread_sk is None)

    def page(self, user_id: str, unread: bool, limit: int, cursor: str | None) -> tuple[list[Notification], str | None]:
        index = NotificationRecord.unread if unread else NotificationRecord.by_time
        key = NotificationRecord.unread_sk if unread else NotificationRecord.created_sk
        kwargs: dict[str, Any] = {"scan_index_forward": False, "limit": limit + 1, "consistent_read": True}
        if cursor:
            kwargs["range_key_condition"] = key < cursors.decode(cursor, _SK)
        items = [self._notification(r) for r in index.query(user_id, **kwargs)]
        more = len(items) > limit
        items = items[:limit]
        return items, (cursors.encode(_sk(items[-1])) if more else None)

    def unread_count(self, user_id: str) -> int:
        return int(NotificationRecord.unread.count(user_id, consistent_read=True))

    def mark_read(self, user_id: str, notification_id: str) -> None:
        try:
            NotificationRecord(user_id, notification_id).update(
                actions=[NotificationRecord.unread_sk.remove()],
                condition=NotificationRecord.notification_id.exists())
        except UpdateError as exc:
            if _conditional(exc):
                raise NotFound("The notification was not found.") from None
            raise

    def read_all(self, user_id: str) -> int:
        done = 0
        for r in NotificationRecord.unread.query(user_id, consistent_read=True,
                                                 attributes_to_get=["user_id", "notification_id"]):
            try:  # conditional: an item the TTL deleted meanwhile is not re-created key-only
                NotificationRecord(user_id, r.notification_id).update(
                    actions=[NotificationRecord.unread_sk.remove()],
                    condition=NotificationRecord.notification_id.exists())
            except UpdateError as exc:
                if not _conditional(exc):
                    raise
                continue
            done += 1
        return done


class DynamoConnections:
    def add(self, connection_id: str, user_id: str, session_id: str, connected_at: int, expires_at: int) -> None:
        ConnectionRecord(connection_id, user_id=user_id, session_id=session_id, connected_at=connected_at,
                         expires_at=expires_at).save()

    def remove(self, connection_id: str) -> None:
        ConnectionRecord(connection_id).delete()  # unconditional: gone already is fine

    def of_user(self, user_id: str) -> list[tuple[str, str]]:
        return [(r.connection_id, r.session_id or "") for r in ConnectionRecord.by_user.query(user_id)]
