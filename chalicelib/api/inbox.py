"""The notifications inbox (HTTP) and the live push's WebSocket handlers."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.routing import Call, Reply, route
from chalicelib.api.schemas import Schema
from chalicelib.api.wallets import PageQuery
from chalicelib.container import get_container
from chalicelib.domain.notification import TYPES

if TYPE_CHECKING:  # the use cases' types; their modules wait for the first request (cold start)
    from chalicelib.domain.results import NotificationPageView

bp = Blueprint(__name__)


class Counterparty(Schema):
    user_id: str
    display_name: str | None


class NotificationData(Schema):
    amount: int
    currency: str
    counterparty: Counterparty | None = Field(description="The other person, if any; never a contact")
    transfer_id: str | None = None
    request_id: str | None = None
    topup_id: str | None = None
    withdrawal_id: str | None = None


class SignInData(Schema):
    """`security.new_sign_in`: when, and the client as it named itself; nothing else."""

    signed_in_at: str
    user_agent: str | None


class NotificationOut(Schema):
    notification_id: str
    type: Literal[TYPES]  # type: ignore[valid-type]
    read: bool
    created_at: str
    data: NotificationData | SignInData


class NotificationPage(Schema):
    items: list[NotificationOut]
    next_cursor: str | None
    unread_count: int


class NotificationQuery(PageQuery):
    unread: bool | None = Field(default=None, description="true: unread ones only")


@route(bp, "/notifications", "GET", summary="Your notifications, newest first, with the unread count",
       query=NotificationQuery, response=NotificationPage, tags=("notifications",))
def list_notifications(call: Call) -> NotificationPageView:
    q = call.query
    return get_container().notifications.list(call.user_id, bool(q.unread), q.limit, q.cursor)


@route(bp, "/notifications/{notification_id}/read", "POST", summary="Mark one notification read",
       status=204, errors=("not_found",), tags=("notifications",))
def read_notification(call: Call, notification_id: str) -> Reply:
    get_container().notifications.mark_read(call.user_id, notification_id)
    return Reply(status=204)


@route(bp, "/notifications/read-all", "POST", summary="Mark every notification read", status=204,
       tags=("notifications",))
def read_all_notifications(call: Call) -> Reply:
    get_container().notifications.read_all(call.user_id)
    return Reply(status=204)


# -- WebSocket (API Gateway WebSocket API; locally the dev stack's server) ----------------------


def ws_connect(connection_id: str, query: dict[str, Any] | None) -> dict[str, Any]:
    """`$connect`: the access token rides in the query string (browsers cannot set headers on a
    WebSocket); without a valid one the handshake is refused (401) and nothing is stored."""
    token = (query or {}).get("token")
    ok = get_container().notifications.connect(connection_id, token if isinstance(token, str) else None)
    return {"statusCode": 200} if ok else {"statusCode": 401, "body": '{"message": "Unauthorized"}'}


def ws_disconnect(connection_id: str) -> dict[str, Any]:
    get_container().notifications.disconnect(connection_id)
    return {"statusCode": 200}
