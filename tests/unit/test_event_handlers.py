"""The SQS and scheduled Lambdas, invoked the way Lambda invokes them (chalice.test.Client);
the stream Lambda is in test_notifications."""
from __future__ import annotations

import pytest
from chalice.test import Client

from chalicelib.container import Container, set_container
from tests.fakes import FakeStripeEventLog
from tests.stripe_signing import event


class FlakyLog(FakeStripeEventLog):
    def record_received(self, event_id, type_, object_id):
        if event_id == "evt_fail":
            raise ConnectionError("dynamodb unreachable")
        return super().record_received(event_id, type_, object_id)


class RecordingHandler:
    def __init__(self):
        self.seen = []

    def apply(self, event_type, obj):
        self.seen.append((event_type, obj.get("id")))
        return "seen"


@pytest.fixture
def container():
    c = Container(stripe_event_log=FlakyLog(), funding=RecordingHandler())
    set_container(c)
    yield c
    set_container(None)


def test_partial_batch_failure_reports_only_the_failed_message(container):
    import app

    with Client(app.app) as client:
        sqs = client.events.generate_sqs_event(
            message_bodies=[event("customer.created", {"id": "cus_1"}, "evt_ok"),
                            event("customer.created", {"id": "cus_2"}, "evt_fail"),
                            "not json at all"],
            queue_name="ewallet-stripe-events")
        ids = [r["messageId"] for r in sqs["Records"]]
        result = client.lambda_.invoke("stripe_events", sqs).payload
    assert result == {"batchItemFailures": [{"itemIdentifier": ids[1]}]}
    assert set(container.stripe_event_log.events) == {"evt_ok"}
    assert container.funding.seen == [("customer.created", "cus_1")]


def test_reconciliation_runs_on_its_own_schedule_whatever_payouts_do(monkeypatch):
    # A payout problem (here: the funding service cannot even be built) never stops the checks.
    import app
    from chalicelib.services import reconcile as rec

    class Broken(Container):
        @property
        def funding(self):
            raise RuntimeError("stripe is down")

    c = Broken(ledger_store=object(), offline_store=object())
    set_container(c)
    monkeypatch.setattr(rec, "reconcile", lambda store, **kw: rec.Report(wallets=3))
    try:
        with Client(app.app) as client:
            out = client.lambda_.invoke("reconcile", client.events.generate_cw_event(
                source="aws.events", detail_type="Scheduled Event", detail={}, resources=[], region="us-east-1"))
        assert out.payload["ok"] is True and out.payload["wallets"] == 3
        names = {s.name for s in app.app.event_sources}
        assert {"reconcile", "resume_withdrawals"} <= names
    finally:
        set_container(None)


def test_the_container_takes_its_dependencies_by_name_and_refuses_unknown_ones():
    log = FakeStripeEventLog()
    assert Container(stripe_event_log=log).stripe_event_log is log
    with pytest.raises(TypeError):
        Container(stripe_evnt_log=log)
