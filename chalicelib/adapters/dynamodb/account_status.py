"""The account-status item a money transaction checks (models.AccountStatusRecord).

Three facts keep it equal to the user item's `status`:
- every change of status (an operator's freeze or unfreeze, a closing) writes both items in one
  transaction;
- the check fails closed: the item must exist and say active;
- an item missing (the account's status has not changed since the table was added) is written
  from the user's status by `write_missing`, only while it is still missing. A change that
  commits between that read and that put has written the item already, so the put fails and
  the change stands.
"""
from __future__ import annotations

import contextlib
from typing import Any

ACTIVE = "active"


def may_send(table: str, user_id: str) -> dict[str, Any]:
    """The transaction item: the account exists and is active (not frozen, not closed)."""
    return {"ConditionCheck": {
        "TableName": table, "Key": {"user_id": {"S": user_id}},
        "ConditionExpression": "#st = :active",
        "ExpressionAttributeNames": {"#st": "status"},
        "ExpressionAttributeValues": {":active": {"S": ACTIVE}}}}


def owner_checked(item: dict[str, Any]) -> str:
    """The user id a `may_send` item checks."""
    return str(item["ConditionCheck"]["Key"]["user_id"]["S"])


def status_put(table: str, user_id: str, status: str) -> dict[str, Any]:
    """The transaction item that sets the status, whatever it was (the user item's own update
    in the same transaction carries the condition)."""
    return {"Put": {"TableName": table, "Item": {"user_id": {"S": user_id}, "status": {"S": status}}}}


def write_missing(ddb: Any, table: str, users_table: str, user_id: str) -> bool:
    """Write the item from the user item's status if it does not exist yet. True when it was
    missing (written now, or meanwhile by someone else): the check is worth running again.
    False when it existed (the check's answer stands) or there is no such user (nothing to send
    from: the check keeps failing)."""
    key = {"user_id": {"S": user_id}}
    if "Item" in ddb.get_item(TableName=table, Key=key, ConsistentRead=True):
        return False
    user = ddb.get_item(TableName=users_table, Key=key, ConsistentRead=True,
                        ProjectionExpression="user_id, #st", ExpressionAttributeNames={"#st": "status"})
    if "Item" not in user:
        return False
    # Accounts made before statuses existed have no status attribute: they are active.
    status = user["Item"].get("status", {}).get("S", ACTIVE)
    # A change of status (or a twin of this call) that wrote it first holds.
    with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName=table, Item={**key, "status": {"S": status}},
                     ConditionExpression="attribute_not_exists(user_id)")
    return True
