"""The Stripe event de-duplication record on DynamoDB Local."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from chalicelib.adapters.dynamodb.stripe_events import DynamoStripeEventLog


def test_first_delivery_is_new_then_duplicate(bound):
    log = DynamoStripeEventLog()
    event_id = f"evt_{uuid.uuid4().hex}"
    assert log.record_received(event_id, "customer.created", "cus_1") is True
    assert log.record_received(event_id, "customer.created", "cus_1") is False
    record = log.get(event_id)
    assert record is not None and (record.type, record.object_id, record.status) == (
        "customer.created", "cus_1", "received")
    assert record.expires_at > 0


def test_concurrent_deliveries_of_one_event_record_it_once(bound):
    log = DynamoStripeEventLog()
    event_id = f"evt_{uuid.uuid4().hex}"
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: log.record_received(event_id, "x.y", None), range(10)))
    assert results.count(True) == 1 and results.count(False) == 9
