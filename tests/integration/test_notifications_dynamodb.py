"""Stream -> notifications on DynamoDB Local: the records a payment leaves in the streams, read
the way Lambda's event-source mapping reads them and handed to the handler (more than once, out
of order), make exactly one notification per event and person in the inbox."""
from __future__ import annotations

import random
import time

from chalicelib.adapters.aws import client
from chalicelib.adapters.dynamodb.stream import changes
from devstack.pump import StreamSource
from tests.integration.test_ledger_dynamodb import fund, pay, person
from tests.integration.test_payment_requests_dynamodb import ask


def stream_records(settings, table: str, wanted, timeout: float = 20) -> list[dict]:
    """The records of one table's stream (from its oldest) that `wanted` keeps."""
    got: list[dict] = []
    source = StreamSource(client("dynamodb", settings), client("dynamodbstreams", settings),
                          lambda event, context: got.extend(event["Records"]), settings.table_prefix + table)
    deadline = time.time() + timeout
    while time.time() < deadline:
        source.poll()
        kept = [r for r in got if wanted(r)]
        if kept:
            return kept
        time.sleep(0.2)
    raise AssertionError(f"no record in the {table} stream")


def test_replayed_and_reordered_records_make_one_notification_per_event(stack_container, stack_settings):
    c = stack_container
    ann, ann_email, ann_wallet = person(c)
    bob, bob_email, _ = person(c)
    fund(c.ledger, ann_wallet, 5000)
    transfer = pay(c.ledger, ann, ann_wallet, {"email": bob_email}, 1250, memo="private memo").body["transfer_id"]
    request = ask(c, bob, ann_email, 300)["request_id"]
    prefix = stack_settings.table_prefix

    def image(r: dict) -> dict:
        return r.get("dynamodb", {}).get("NewImage", {})

    records = stream_records(stack_settings, "entries",
                             lambda r: image(r).get("transfer_id", {}).get("S") == transfer)
    records += stream_records(stack_settings, "payment_requests",
                              lambda r: image(r).get("request_id", {}).get("S") == request)
    # The stack's own event pump handles these records too (as a second Lambda would): the
    # inbox must still hold each notification once, however many times they are handled.
    for _ in range(3):
        batch = records * 2
        random.shuffle(batch)
        c.notifications.handle(changes(batch, prefix))

    bob_inbox = [n for n in c.notifications.list(bob, False, 100, None)["items"]
                 if n["data"].get("transfer_id") == transfer]
    assert [n["type"] for n in bob_inbox] == ["transfer.received"]
    assert bob_inbox[0]["data"]["counterparty"]["user_id"] == ann
    assert "private memo" not in str(bob_inbox) and bob_email not in str(bob_inbox)
    ann_inbox = [n for n in c.notifications.list(ann, False, 100, None)["items"]
                 if n["data"].get("request_id") == request]
    assert [n["type"] for n in ann_inbox] == ["payment_request.received"]
    assert c.notifications.list(ann, True, 100, None)["unread_count"] == 1
    assert c.notifications.read_all(ann) == 1
    assert c.notifications.list(ann, True, 100, None) == {"items": [], "next_cursor": None, "unread_count": 0}

