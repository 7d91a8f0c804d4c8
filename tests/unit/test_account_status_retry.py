"""The ledger's transaction loop when the payer's status item is missing (adapters.dynamodb.
account_status): writing it is a repair, not contention, so it never uses up the last try, and
a failure to write it is a 503 with nothing moved, never a 500. DynamoDB Local covers the rest
(tests/integration/test_account_status_dynamodb.py)."""
from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.dynamodb import account_status
from chalicelib.adapters.dynamodb.connection import MAX_ATTEMPTS
from chalicelib.adapters.dynamodb.ledger import DynamoLedger
from chalicelib.adapters.dynamodb.models import AccountStatusRecord
from chalicelib.config import Settings
from chalicelib.domain.errors import AccountFrozen, ServiceUnavailable


def cancelled(*codes: str) -> ClientError:
    return ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                        "CancellationReasons": [{"Code": c} for c in codes]}, "TransactWriteItems")


class Client:
    """TransactWriteItems answers from `outcomes` (an exception, or success once they run out);
    the status item and the user item live in `items`."""

    class exceptions:
        ConditionalCheckFailedException = type("ConditionalCheckFailedException", (Exception,), {})

    def __init__(self, outcomes: list[ClientError], user_status: str | None, failing_reads: bool = False) -> None:
        self.outcomes, self.sent, self.failing_reads = outcomes, 0, failing_reads
        self.items: dict[str, dict[str, Any]] = {}
        if user_status:
            self.items["users"] = {"user_id": {"S": "usr_a"}, "status": {"S": user_status}}

    def transact_write_items(self, **_: Any) -> dict[str, Any]:
        self.sent += 1
        if self.outcomes:
            raise self.outcomes.pop(0)
        if self.items.get("account_status", {}).get("status", {}).get("S") != "active":
            raise cancelled("None", "ConditionalCheckFailed")
        return {}

    def get_item(self, TableName: str, **_: Any) -> dict[str, Any]:
        if self.failing_reads:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetItem")
        table = TableName.rsplit("-", 1)[-1]
        return {"Item": self.items[table]} if table in self.items else {}

    def put_item(self, TableName: str, Item: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.items[TableName.rsplit("-", 1)[-1]] = Item
        return {}


def send(client: Client) -> None:
    store = DynamoLedger(Settings(), client, sleep=lambda _: None)
    items = [{"Update": {"TableName": "wallets"}}, account_status.may_send(store.t[AccountStatusRecord], "usr_a")]
    store._transact(items, ["debit", "account"], None)


def test_a_missing_item_met_on_the_last_try_is_written_and_the_payment_goes_through():
    conflicts = [cancelled("TransactionConflict", "None")] * (MAX_ATTEMPTS - 1)
    client = Client([*conflicts, cancelled("None", "ConditionalCheckFailed")], user_status="active")
    send(client)
    assert client.items["account_status"]["status"] == {"S": "active"}
    assert client.sent == MAX_ATTEMPTS + 1  # the conflicts, the check that failed closed, the payment


def test_a_frozen_account_met_on_the_last_try_is_refused_as_frozen():
    conflicts = [cancelled("TransactionConflict", "None")] * (MAX_ATTEMPTS - 1)
    client = Client([*conflicts, cancelled("None", "ConditionalCheckFailed")], user_status="frozen")
    with pytest.raises(AccountFrozen):
        send(client)
    assert client.items["account_status"]["status"] == {"S": "frozen"}


def test_failing_to_write_the_item_is_a_503():
    client = Client([cancelled("None", "ConditionalCheckFailed")], user_status="active", failing_reads=True)
    with pytest.raises(ServiceUnavailable):
        send(client)
    assert "account_status" not in client.items and client.sent == 1
