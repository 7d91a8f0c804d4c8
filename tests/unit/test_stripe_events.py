import json

import pytest

from chalicelib.adapters.stripe_webhooks import StripeWebhookVerifier
from chalicelib.domain.errors import InvalidWebhook
from chalicelib.services import stripe_events
from tests.fakes import FakeQueue, FakeStripeEventLog, FakeVerifier
from tests.stripe_signing import event, sign

SECRET = "whsec_unit_test"


def test_verified_webhook_is_enqueued():
    queue = FakeQueue()
    payload = event("customer.created", {"id": "cus_1"}, "evt_1")
    stripe_events.receive_webhook(payload.encode(), "sig", FakeVerifier(), queue)
    assert [json.loads(m)["id"] for m in queue.sent] == ["evt_1"]


def test_rejected_webhook_enqueues_nothing():
    queue = FakeQueue()
    with pytest.raises(InvalidWebhook):
        stripe_events.receive_webhook(b"{}", "sig", FakeVerifier(valid=False), queue)
    assert queue.sent == []


@pytest.mark.parametrize("payload", [b"[]", b'{"id": "evt_1"}', b'{"type": "x"}', b'{"id": 5, "type": "x"}'])
def test_signed_but_malformed_events_are_rejected(payload):
    queue = FakeQueue()
    with pytest.raises(InvalidWebhook):
        stripe_events.receive_webhook(payload, "sig", FakeVerifier(), queue)
    assert queue.sent == []


def test_apply_records_once():
    log = FakeStripeEventLog()
    body = event("customer.created", {"id": "cus_9"}, "evt_9")
    first = stripe_events.apply_event(body, log)
    again = stripe_events.apply_event(body, log)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert log.events == {"evt_9": ("customer.created", "cus_9")}


class TestSignatureVerifier:
    verifier = StripeWebhookVerifier(SECRET)
    payload = event("customer.created", {"id": "cus_1"})

    def test_valid(self):
        self.verifier.verify(self.payload.encode(), sign(self.payload, SECRET))

    @pytest.mark.parametrize("case", ["missing", "empty", "forged", "stale", "future", "altered", "garbage"])
    def test_invalid(self, case):
        p = self.payload
        sig = {
            "missing": None,
            "empty": "",
            "forged": sign(p, "whsec_other"),
            "stale": sign(p, SECRET, ts=int(__import__("time").time()) - 301),
            "future": sign(p, SECRET, ts=int(__import__("time").time()) + 3600),
            "altered": sign(p, SECRET),
            "garbage": "t=abc,v1=zzz",
        }[case]
        body = p.replace("cus_1", "cus_2") if case == "altered" else p
        with pytest.raises(InvalidWebhook):
            self.verifier.verify(body.encode(), sig)

    def test_non_utf8_body(self):
        with pytest.raises(InvalidWebhook):
            self.verifier.verify(b"\xff\xfe", sign("x", SECRET))


def test_events_of_connected_accounts_verify_with_the_connect_secret():
    verifier = StripeWebhookVerifier(SECRET, "whsec_connect")
    payload = event("payout.paid", {"id": "po_1"})
    verifier.verify(payload.encode(), sign(payload, SECRET))
    verifier.verify(payload.encode(), sign(payload, "whsec_connect"))
    with pytest.raises(InvalidWebhook):
        verifier.verify(payload.encode(), sign(payload, "whsec_other"))
    with pytest.raises(ValueError):
        StripeWebhookVerifier(None, "")


def test_the_connect_secret_is_optional_and_read_like_the_others():
    from chalicelib.adapters.secrets import Secrets

    assert Secrets(lambda: None, env={}).get_optional("STRIPE_CONNECT_WEBHOOK_SECRET") is None
    env = {"STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_c"}
    assert Secrets(lambda: None, env=env).get_optional("STRIPE_CONNECT_WEBHOOK_SECRET") == "whsec_c"


@pytest.mark.parametrize("suffix", [",t=x", ",t=0", ",t="])
def test_only_the_first_timestamp_of_a_signature_counts(suffix):
    verifier = StripeWebhookVerifier(SECRET)
    payload = event("payout.paid", {"id": "po_1"})
    future = int(__import__("time").time()) + 3600
    # A far-future first timestamp stays refused, whatever a later `t=` says; junk is a 400.
    with pytest.raises(InvalidWebhook):
        verifier.verify(payload.encode(), sign(payload, SECRET, ts=future) + suffix)
    verifier.verify(payload.encode(), sign(payload, SECRET) + suffix)
