"""Funding over HTTP against the local stack: localstripe cards and webhooks, signed events."""
from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pyotp
import pytest
import requests
import stripe

from chalicelib.services.reconcile import reconcile
from tests.e2e.conftest import PASSWORD, wait_for
from tests.stripe_signing import sign


def code(r):
    try:
        return r.json()["error"]["code"]
    except Exception:  # noqa: BLE001
        return None


@pytest.fixture(scope="module")
def stripe_api(stack):
    client = stripe.StripeClient(stack["STRIPE_API_KEY"], base_addresses={"api": stack["STRIPE_API_BASE"]}).v1
    return client


def card(stripe_api, number="4242424242424242") -> str:
    return stripe_api.payment_methods.create(params={"type": "card", "card": {
        "number": number, "exp_month": 12, "exp_year": 2031, "cvc": "123"}}).id


def wallet_id(user) -> str:
    return user.api.request("GET", "/wallets").json()["items"][0]["wallet_id"]


def balance(user, wid=None) -> dict:
    return user.api.request("GET", f"/wallets/{wid or wallet_id(user)}").json()


def add_card(user, stripe_api, number="4242424242424242"):
    return user.api.request("POST", "/payment-methods", {"stripe_payment_method_id": card(stripe_api, number)})


def topup(user, pm_id, amount, key=None, wid=None):
    return user.api.request("POST", "/topups", {"wallet_id": wid or wallet_id(user), "amount": amount,
                                                "payment_method_id": pm_id},
                            headers={"Idempotency-Key": key or uuid.uuid4().hex})


def post_event(stack, type_, obj, event_id=None, secret=None, ts=None, tamper=False):
    payload = json.dumps({"id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": type_,
                          "created": int(time.time()), "data": {"object": obj}})
    sig = sign(payload, secret or stack["STRIPE_WEBHOOK_SECRET"], ts)
    body = payload.replace('"object": "event"', '"object": "event" ') if tamper else payload
    return requests.post(stack["API_URL"] + "/webhooks/stripe", data=body.encode(), timeout=10,
                         headers={"Content-Type": "application/json", "Stripe-Signature": sig})


def test_payment_methods(new_user, stripe_api):
    u, other = new_user(), new_user()
    r = add_card(u, stripe_api)
    assert r.status_code == 201, r.text
    pm = r.json()
    assert pm["type"] == "card" and pm["brand"] == "visa" and pm["last4"] == "4242" and pm["exp_year"] == 2031
    assert "number" not in json.dumps(pm)
    assert [p["payment_method_id"] for p in u.api.request("GET", "/payment-methods").json()["items"]] == [
        pm["payment_method_id"]]
    si = u.api.request("POST", "/payment-methods/setup-intents")
    assert si.status_code == 201 and si.json()["client_secret"].startswith(si.json()["setup_intent_id"])
    assert other.api.request("DELETE", f"/payment-methods/{pm['payment_method_id']}").status_code == 404
    assert u.api.request("DELETE", f"/payment-methods/{pm['payment_method_id']}").status_code == 204
    assert u.api.request("GET", "/payment-methods").json()["items"] == []
    declined = add_card(u, stripe_api, "4000000000000002")
    assert declined.status_code == 402 and code(declined) == "card_declined"
    bad = u.api.request("POST", "/payment-methods", {"stripe_payment_method_id": "pm_doesnotexist"})
    assert bad.status_code == 400 and code(bad) == "invalid_request"


def test_topup_is_credited_once_by_the_localstripe_webhook(new_user, stripe_api, stack):
    u = new_user()
    pm = add_card(u, stripe_api).json()["payment_method_id"]
    key = uuid.uuid4().hex
    r = topup(u, pm, 5000, key)
    assert r.status_code == 202, r.text
    t = r.json()
    assert t["status"] == "pending" and t["provider_reference"].startswith("pi_") and t["currency"] == "USD"
    assert balance(u)["balance"] == 0  # not before the signed event
    again = topup(u, pm, 5000, key)
    assert again.status_code == 202 and again.json() == t and again.headers["Idempotent-Replayed"] == "true"
    assert code(topup(u, pm, 5001, key)) == "idempotency_key_reused"
    assert wait_for(lambda: u.api.request("GET", f"/topups/{t['topup_id']}").json()["status"] == "succeeded")
    assert balance(u)["balance"] == 5000
    # Stripe delivering the same success again, or a late failure, changes nothing.
    pi = {"id": t["provider_reference"], "object": "payment_intent", "amount": 5000, "amount_received": 5000,
          "currency": "usd", "status": "succeeded", "metadata": {"topup_id": t["topup_id"]}}
    assert post_event(stack, "payment_intent.succeeded", pi).status_code == 200
    late_failure = dict(pi, status="requires_payment_method")
    assert post_event(stack, "payment_intent.payment_failed", late_failure).status_code == 200
    time.sleep(2)
    assert balance(u)["balance"] == 5000
    assert u.api.request("GET", f"/topups/{t['topup_id']}").json()["status"] == "succeeded"


def test_forged_stale_altered_events_are_400_and_change_nothing(new_user, stripe_api, stack):
    u = new_user()
    pm = add_card(u, stripe_api, "4000002760003184").json()["payment_method_id"]  # 3DS: never succeeds here
    t = topup(u, pm, 700).json()
    pi = {"id": t["provider_reference"], "amount": 700, "amount_received": 700, "currency": "usd",
          "metadata": {"topup_id": t["topup_id"]}}
    forgeries: list[dict[str, Any]] = [{"secret": "whsec_forged"}, {"ts": int(time.time()) - 600}, {"tamper": True}]
    for kwargs in forgeries:
        r = post_event(stack, "payment_intent.succeeded", pi, **kwargs)
        assert r.status_code == 400 and code(r) == "invalid_signature", kwargs
    r = requests.post(stack["API_URL"] + "/webhooks/stripe", data=b"{}", timeout=10,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    time.sleep(2)
    assert balance(u)["balance"] == 0


def test_3ds_card_requires_action(new_user, stripe_api):
    u = new_user()
    pm = add_card(u, stripe_api, "4000002760003184").json()["payment_method_id"]
    r = topup(u, pm, 1000)
    assert r.status_code == 202 and r.json()["status"] == "requires_action"
    assert r.json()["client_secret"].startswith(r.json()["provider_reference"])
    assert balance(u)["balance"] == 0


def test_signed_event_with_wrong_amount_is_not_credited(new_user, stripe_api, stack):
    u = new_user()
    pm = add_card(u, stripe_api, "4000002760003184").json()["payment_method_id"]
    t = topup(u, pm, 700).json()
    pi = {"id": t["provider_reference"], "amount": 70000, "amount_received": 70000, "currency": "usd",
          "metadata": {"topup_id": t["topup_id"]}}
    assert post_event(stack, "payment_intent.succeeded", pi).status_code == 200
    assert wait_for(lambda: u.api.request("GET", f"/topups/{t['topup_id']}").json()["status"] == "failed")
    assert balance(u)["balance"] == 0


def test_topup_errors(new_user, stripe_api):
    u, other = new_user(), new_user()
    pm = add_card(u, stripe_api).json()["payment_method_id"]
    assert code(u.api.request("POST", "/topups", {"wallet_id": wallet_id(u), "amount": 5,
                                                  "payment_method_id": pm})) == "idempotency_key_required"
    assert code(topup(u, pm, 5, wid=wallet_id(other))) == "not_found"
    assert code(topup(other, pm, 5)) == "not_found"  # someone else's card
    for amount in [0, -1, 1.5, "5", True]:
        assert code(topup(u, pm, amount)) == "invalid_request", amount
    assert other.api.request("GET", f"/topups/{topup(u, pm, 5).json()['topup_id']}").status_code == 404


def test_refund_and_dispute_move_money_back_once(new_user, stripe_api, stack):
    u = new_user()
    pm = add_card(u, stripe_api).json()["payment_method_id"]
    t = topup(u, pm, 3000).json()
    assert wait_for(lambda: balance(u)["balance"] == 3000)
    charge = {"id": f"ch_{uuid.uuid4().hex[:20]}", "object": "charge", "amount": 3000,
              "payment_intent": t["provider_reference"], "currency": "usd"}
    for refunded in (1000, 1000, 1500):  # partial, redelivered, then cumulative 1500
        assert post_event(stack, "charge.refunded", dict(charge, amount_refunded=refunded)).status_code == 200
    assert wait_for(lambda: balance(u)["balance"] == 1500)
    dispute = {"id": f"dp_{uuid.uuid4().hex[:20]}", "object": "dispute", "amount": 500, "charge": charge["id"],
               "payment_intent": t["provider_reference"], "currency": "usd"}
    assert post_event(stack, "charge.dispute.created", dispute).status_code == 200
    assert post_event(stack, "charge.dispute.created", dispute).status_code == 200
    assert wait_for(lambda: balance(u)["held"] == 500)
    w = balance(u)
    assert (w["balance"], w["available"]) == (1500, 1000)
    assert post_event(stack, "charge.dispute.closed", dict(dispute, status="won")).status_code == 200
    assert wait_for(lambda: balance(u)["held"] == 0)
    assert balance(u)["balance"] == 1500


def test_a_refund_that_fails_later_gives_the_money_back_once(new_user, stripe_api, stack):
    u = new_user()
    pm = add_card(u, stripe_api).json()["payment_method_id"]
    t = topup(u, pm, 2000).json()
    assert wait_for(lambda: balance(u)["balance"] == 2000)
    charge = {"id": f"ch_{uuid.uuid4().hex[:20]}", "object": "charge", "amount": 2000, "amount_refunded": 800,
              "payment_intent": t["provider_reference"], "currency": "usd"}
    assert post_event(stack, "charge.refunded", charge).status_code == 200
    assert wait_for(lambda: balance(u)["balance"] == 1200)
    refund = {"id": f"re_{uuid.uuid4().hex[:20]}", "object": "refund", "amount": 800, "charge": charge["id"],
              "payment_intent": t["provider_reference"], "currency": "usd", "status": "failed",
              "failure_reason": "expired_or_canceled_card"}
    for _ in range(2):  # redelivered, and a second event for the same refund
        assert post_event(stack, "charge.refund.updated", refund).status_code == 200
    assert wait_for(lambda: balance(u)["balance"] == 2000)
    # A later refund of the same charge is still taken once: Stripe's running total goes on.
    assert post_event(stack, "charge.refunded", dict(charge, amount_refunded=1300)).status_code == 200
    assert wait_for(lambda: balance(u)["balance"] == 1500)
    time.sleep(1)
    assert balance(u)["balance"] == 1500
    # A failed refund bigger than what was ever taken from the wallet gives nothing extra.
    greedy = dict(refund, id=f"re_{uuid.uuid4().hex[:20]}", amount=1000)
    assert post_event(stack, "charge.refund.updated", greedy).status_code == 200
    time.sleep(2)
    assert balance(u)["balance"] == 1500


def test_a_refund_arriving_before_the_credit_waits_for_it(new_user, stripe_api, stack):
    u = new_user()
    pm = add_card(u, stripe_api, "4000002760003184").json()["payment_method_id"]  # never succeeds by itself
    t = topup(u, pm, 700).json()
    charge = {"id": f"ch_{uuid.uuid4().hex[:20]}", "object": "charge", "amount": 700, "amount_refunded": 300,
              "payment_intent": t["provider_reference"], "currency": "usd"}
    assert post_event(stack, "charge.refunded", charge).status_code == 200  # too early: redelivered later
    time.sleep(1)
    pi = {"id": t["provider_reference"], "amount": 700, "amount_received": 700, "currency": "usd",
          "metadata": {"topup_id": t["topup_id"]}}
    assert post_event(stack, "payment_intent.succeeded", pi).status_code == 200
    assert wait_for(lambda: balance(u)["balance"] == 400, timeout=40)


def enroll(user) -> pyotp.TOTP:
    totp = pyotp.TOTP(user.api.request("POST", "/me/mfa/totp", {"password": PASSWORD}).json()["secret"])
    assert user.api.request("POST", "/me/mfa/totp/confirm", {"otp": totp.at(time.time() - 30)}).status_code == 200
    return totp


def funded(new_user, stripe_api, amount):
    u = new_user()
    pm = add_card(u, stripe_api).json()["payment_method_id"]
    topup(u, pm, amount)
    assert wait_for(lambda: balance(u)["balance"] == amount)
    return u


def withdraw(user, amount, otp, key=None):
    return user.api.request("POST", "/withdrawals", {"wallet_id": wallet_id(user), "amount": amount, "otp": otp},
                            headers={"Idempotency-Key": key or uuid.uuid4().hex})


def test_withdrawal_needs_2fa(new_user, stripe_api):
    u = funded(new_user, stripe_api, 2000)
    assert code(withdraw(u, 500, "123456")) == "mfa_not_enrolled"
    totp = enroll(u)
    assert code(withdraw(u, 500, None)) == "mfa_required"
    bad = "000000" if totp.now() != "000000" else "111111"
    assert code(withdraw(u, 500, bad)) == "mfa_invalid"
    assert balance(u)["held"] == 0


def test_withdrawal_held_then_paid_or_failed(new_user, stripe_api, stack):
    u = funded(new_user, stripe_api, 2000)
    # Where withdrawals go needs step-up: the password while 2FA is off (then it would need a code).
    assert u.api.request("POST", "/payout-account").json()["error"]["code"] == "reauth_required"
    assert u.api.request("POST", "/payout-account", {"password": PASSWORD}).status_code == 201
    assert u.api.request("GET", "/payout-account").json()["status"] == "enabled"
    totp = enroll(u)
    key = uuid.uuid4().hex
    r = withdraw(u, 600, totp.now(), key)
    assert r.status_code == 202, r.text
    w = r.json()
    assert w["status"] == "pending" and w["provider_reference"].startswith("po_")
    assert (balance(u)["balance"], balance(u)["held"], balance(u)["available"]) == (2000, 600, 1400)
    again = withdraw(u, 600, "999999", key)  # a retry: replayed, not a second withdrawal
    assert again.status_code == 202 and again.json()["withdrawal_id"] == w["withdrawal_id"]
    assert again.headers["Idempotent-Replayed"] == "true" and balance(u)["held"] == 600
    # The payout as the Stripe stand-in made it (EUR, our figures in its metadata).
    payout = dict(stripe_api.payouts.retrieve(w["provider_reference"]).to_dict(), status="paid")
    # Metadata naming the withdrawal settles nothing without the recorded payout id...
    forged = dict(payout, id="po_forged_by_someone")
    assert post_event(stack, "payout.paid", forged).status_code == 200
    # ...nor with another amount.
    assert post_event(stack, "payout.paid", dict(payout, metadata=dict(payout["metadata"], amount="1"))
                      ).status_code == 200
    time.sleep(2)
    assert u.api.request("GET", f"/withdrawals/{w['withdrawal_id']}").json()["status"] == "pending"
    assert post_event(stack, "payout.paid", payout).status_code == 200
    assert wait_for(lambda: u.api.request("GET", f"/withdrawals/{w['withdrawal_id']}").json()["status"] == "paid")
    late = withdraw(u, 600, "999999", key)  # still the original answer, not the current state
    assert late.status_code == 202 and late.json() == w and late.headers["Idempotent-Replayed"] == "true"
    assert (balance(u)["balance"], balance(u)["held"]) == (1400, 0)
    # A paid payout can still fail later (the bank returns it): the money comes back, once.
    for _ in range(2):
        assert post_event(stack, "payout.failed", dict(payout, status="failed")).status_code == 200
    assert wait_for(lambda: balance(u)["balance"] == 2000)
    time.sleep(2)
    assert (balance(u)["balance"], balance(u)["held"]) == (2000, 0)
    assert u.api.request("GET", f"/withdrawals/{w['withdrawal_id']}").json()["status"] == "failed"

    second = withdraw(u, 400, totp.at(time.time() + 30), uuid.uuid4().hex)  # the next step: unused
    assert second.status_code == 202, second.text
    s = second.json()
    failed = dict(stripe_api.payouts.retrieve(s["provider_reference"]).to_dict(), status="failed")
    assert post_event(stack, "payout.failed", failed).status_code == 200
    assert wait_for(lambda: u.api.request("GET", f"/withdrawals/{s['withdrawal_id']}").json()["status"] == "failed")
    assert (balance(u)["balance"], balance(u)["held"], balance(u)["available"]) == (2000, 0, 2000)
    assert new_user().api.request("GET", f"/withdrawals/{w['withdrawal_id']}").status_code == 404


def test_withdrawal_cannot_exceed_available(new_user, stripe_api):
    u = funded(new_user, stripe_api, 300)
    totp = enroll(u)
    r = withdraw(u, 301, totp.now())
    assert r.status_code == 422 and code(r) == "insufficient_funds"
    assert balance(u)["held"] == 0


def test_ledger_reconciles_after_the_funding_flows(stack_container):
    report = reconcile(stack_container.ledger_store)
    assert report.ok, report.drift[:5]
