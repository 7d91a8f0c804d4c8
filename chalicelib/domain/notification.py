"""Notifications: what happened to someone's money or requests, for them alone (guarantee 13).

Each change of a record (a stream record) may concern some people; `notices_for` says who and
what, as a pure rule per table. A notification's id is derived from (type, subject, recipient):
whatever the stream does (replays a batch, delivers records out of order, or carries a record
changed twice), one event makes one notification per person, written `attribute_not_exists`.
Data holds ids, amount, currency and the counterparty's user id (shown with a display name):
never an e-mail, a phone or a memo.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

TYPES = ("transfer.received", "transfer.claimed", "topup.succeeded", "topup.failed", "withdrawal.paid",
         "withdrawal.failed", "payment_request.received", "payment_request.paid", "payment_request.declined",
         "offline.redeemed", "security.new_sign_in")
# Told by e-mail too (to the account's verified address), not only in the inbox.
EMAILED = ("security.new_sign_in",)
TTL_SECONDS = 90 * 86400


@dataclass(frozen=True)
class Change:
    """One stream record, read: the table's short name (models' `table`), INSERT | MODIFY |
    REMOVE, the item after the change as plain values, and when the stream saw the change
    (approximate: to the second in AWS, to the minute in DynamoDB Local)."""

    table: str
    event: str
    image: dict[str, Any]
    at: float


@dataclass(frozen=True)
class Notice:
    """Someone should hear of something: what, about which resource, and with whom (if anyone)."""

    recipient: str
    type: str
    subject: str  # the resource id the notification is about
    data: dict[str, Any]
    counterparty: str | None = None


@dataclass(frozen=True)
class Notification:
    user_id: str
    notification_id: str
    type: str
    created_ms: int
    data: dict[str, Any] = field(default_factory=dict)  # with the counterparty's {user_id, display_name}
    read: bool = False


def notification_id(type_: str, subject: str, recipient: str) -> str:
    return "ntf_" + hashlib.sha256(f"{type_}|{subject}|{recipient}".encode()).hexdigest()[:32]


def _money(image: dict[str, Any], **ids: Any) -> dict[str, Any]:
    return {**ids, "amount": int(image["amount"]), "currency": str(image["currency"])}


def _person(user_id: Any) -> bool:
    return isinstance(user_id, str) and user_id.startswith("usr_")  # not a system account


def notices_for(change: Change) -> list[Notice]:
    """The fan-out rules: who hears of this change, and what."""
    rule = _RULES.get(change.table)
    if rule is None or change.event == "REMOVE":
        return []
    return rule(change)


def _entry(c: Change) -> list[Notice]:
    # Money arrives in a wallet: a posted credit leg of a person-to-person transfer (a payment,
    # a paid request, a claimed invitation, a redeemed offline voucher). And a payer hears that
    # a voucher they signed offline was redeemed (its posted debit leg). Top-ups and withdrawals
    # speak through their own records; the counterparty is looked up by the service.
    i = c.image
    if c.event != "INSERT" or i.get("status") != "posted" or not _person(i.get("owner_id")):
        return []
    money = _money(i, transfer_id=i["transfer_id"])
    if i.get("direction") == "credit" and i.get("type") in ("transfer", "offline"):
        return [Notice(i["owner_id"], "transfer.received", i["transfer_id"], money)]
    if i.get("direction") == "debit" and i.get("type") == "offline":
        return [Notice(i["owner_id"], "offline.redeemed", i["transfer_id"], money)]
    return []


def _invitation(c: Change) -> list[Notice]:
    i = c.image
    if i.get("status") != "posted" or not _person(i.get("claimed_by")):
        return []
    return [Notice(i["sender_id"], "transfer.claimed", i["transfer_id"], _money(i, transfer_id=i["transfer_id"]),
                   counterparty=i["claimed_by"])]


def _topup(c: Change) -> list[Notice]:
    i = c.image
    kind = {"succeeded": "topup.succeeded", "failed": "topup.failed"}.get(str(i.get("status")))
    return [Notice(i["user_id"], kind, i["topup_id"], _money(i, topup_id=i["topup_id"]))] if kind else []


def _withdrawal(c: Change) -> list[Notice]:
    i = c.image
    kind = {"paid": "withdrawal.paid", "failed": "withdrawal.failed"}.get(str(i.get("status")))
    return [Notice(i["user_id"], kind, i["withdrawal_id"], _money(i, withdrawal_id=i["withdrawal_id"]))] if kind else []


def _payment_request(c: Change) -> list[Notice]:
    i, status = c.image, c.image.get("status")
    ids = {"request_id": i["request_id"]}
    if c.event == "INSERT" and status == "pending":
        return [Notice(i["payer_id"], "payment_request.received", i["request_id"], _money(i, **ids),
                       counterparty=i["requester_id"])]
    if status == "paid":
        return [Notice(i["requester_id"], "payment_request.paid", i["request_id"],
                       _money(i, **ids, transfer_id=i.get("transfer_id")), counterparty=i["payer_id"])]
    if status == "declined":
        return [Notice(i["requester_id"], "payment_request.declined", i["request_id"], _money(i, **ids),
                       counterparty=i["payer_id"])]
    return []


def _session(c: Change) -> list[Notice]:
    # A login from a client with no device token for the account (services.identity decides
    # `new_device`, the account's very first login aside). Its own insert, so once per login;
    # the data is the time and the user agent only: no address, no token, no IP.
    i = c.image
    if c.event != "INSERT" or i.get("new_device") is not True or not _person(i.get("user_id")):
        return []
    return [Notice(i["user_id"], "security.new_sign_in", i["session_id"],
                   {"signed_in_at": str(i["created_at"]), "user_agent": i.get("user_agent")})]


_RULES = {"entries": _entry, "invitations": _invitation, "topups": _topup, "withdrawals": _withdrawal,
          "payment_requests": _payment_request, "sessions": _session}
NOTIFYING_TABLES = tuple(_RULES)
