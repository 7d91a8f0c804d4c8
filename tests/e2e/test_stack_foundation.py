"""Over HTTP against the running local stack: the foundation's promises."""
from __future__ import annotations

import uuid

import pytest
import stripe
from openapi_spec_validator import validate

from chalicelib.adapters.dynamodb.models import StripeEventRecord
from chalicelib.adapters.dynamodb.tables import bind
from chalicelib.config import Settings
from tests.e2e.conftest import REQUIRED_ENV, wait_for
from tests.stripe_signing import event, sign


def test_stack_env_has_every_key(stack):
    assert [k for k in REQUIRED_ENV if not stack.get(k)] == []


def test_health_and_openapi(api):
    r = api.request("GET", "/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    doc = api.request("GET", "/openapi.json").json()
    validate(doc)


@pytest.mark.parametrize("method,path", [("GET", "/wallets"), ("GET", "/x/y/z"), ("POST", "/transfers")])
def test_no_token_is_401_in_contract_shape(api, method, path):
    r = api.request(method, path, json={})
    assert r.status_code == 401
    assert r.json() == {"error": {"code": "unauthorized", "message": "A valid access token is required."}}


@pytest.mark.parametrize("method", ["TRACE", "HEAD", "PROPFIND"])
def test_the_local_server_answers_every_method_in_the_contract_shape(api, method):
    # Python's http.server answers methods it has no handler for with a 501 HTML page.
    r = api.request(method, "/health")
    assert r.status_code == 405 and r.headers["Allow"] == "GET"
    if method != "HEAD":
        assert r.json()["error"]["code"] == "method_not_allowed"


def test_hostile_bodies_over_http(api):
    r = api.request("POST", "/auth/login", data=b'{"email": "' + b"a" * 70000 + b'"}',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    r = api.request("POST", "/auth/login", data=b'{"email": "\\udba3", "password": "x"}',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"
    r = api.request("POST", "/auth/login", data=b"[" * 60000, headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_wrong_method_and_media_type(api):
    r = api.request("PATCH", "/health")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    r = api.request("POST", "/webhooks/stripe", data="x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"


def _record(stack, event_id: str) -> StripeEventRecord | None:
    bind(Settings.from_env(stack))
    try:
        return StripeEventRecord.get(event_id, consistent_read=True)
    except StripeEventRecord.DoesNotExist:
        return None


def test_localstripe_webhook_reaches_the_stripe_events_lambda(stack):
    """localstripe signs and posts customer.created -> our webhook -> SQS -> pump -> handler."""
    stripe.api_key, stripe.api_base = stack["STRIPE_API_KEY"], stack["STRIPE_API_BASE"]
    customer = stripe.Customer.create(email=f"{uuid.uuid4().hex[:8]}@example.com")

    def recorded():
        bind(Settings.from_env(stack))
        return [r for r in StripeEventRecord.scan(StripeEventRecord.object_id == customer.id)
                if r.type == "customer.created"]

    found = wait_for(recorded, timeout=30)
    assert len(found) == 1 and found[0].event_id.startswith("evt_")


def test_signed_event_is_applied_once_and_forgeries_never(api, stack):
    secret = stack["STRIPE_WEBHOOK_SECRET"]
    event_id = f"evt_{uuid.uuid4().hex[:24]}"
    payload = event("customer.updated", {"id": "cus_e2e"}, event_id)
    for _ in range(2):  # Stripe may deliver twice
        r = api.request("POST", "/webhooks/stripe", data=payload, headers={"Stripe-Signature": sign(payload, secret)})
        assert r.status_code == 200 and r.json() == {"received": True}
    assert wait_for(lambda: _record(stack, event_id)) is not None

    forged_id = f"evt_{uuid.uuid4().hex[:24]}"
    forged = event("customer.updated", {"id": "cus_e2e"}, forged_id)
    for sig in [sign(forged, "whsec_wrong"), sign(forged, secret, ts=1), "", "t=1,v1=00"]:
        r = api.request("POST", "/webhooks/stripe", data=forged, headers={"Stripe-Signature": sig})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_signature"
    r = api.request("POST", "/webhooks/stripe", data=forged)  # no header at all
    assert r.status_code == 400
    assert wait_for(lambda: _record(stack, forged_id), timeout=3) is None
