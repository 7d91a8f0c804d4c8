"""Notifications end to end: a transfer or a request made over HTTP reaches the stream, the
notifications function (run by the stack's event pump), the inbox, and a WebSocket client
connected to the stack's WebSocket endpoint within 5 seconds."""
from __future__ import annotations

import json
import time
import uuid

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.e2e.conftest import wait_for
from tests.e2e.test_ledger import code, default_wallet, send


def connect_as(stack, user):
    return connect(f"{stack['WS_URL']}?token={user.tokens['access_token']}", open_timeout=5)


def next_notification(ws, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if message.get("type") == "notification":
            return message["notification"]


def test_a_connected_client_hears_of_money_received_within_5_seconds(stack, new_user, fund):
    ann, bob = new_user(first_name="Ann", last_name="Lee"), new_user(phone=None)
    fund(default_wallet(ann)["wallet_id"], 5000)
    with connect_as(stack, bob) as ws, connect_as(stack, bob) as second:
        time.sleep(0.2)  # the $connect handler has stored both connections
        sent_at = time.monotonic()
        r = send(ann, {"from_wallet_id": default_wallet(ann)["wallet_id"], "to": {"email": bob.email},
                       "amount": 1250, "currency": "USD", "memo": "secret lunch"})
        assert r.status_code == 201, r.text
        got = next_notification(ws, 5)
        took = time.monotonic() - sent_at
        assert took < 5, took
        assert got["type"] == "transfer.received" and got["read"] is False
        assert got["data"]["transfer_id"] == r.json()["transfer_id"] and got["data"]["amount"] == 1250
        assert got["data"]["counterparty"] == {"user_id": ann.user["user_id"], "display_name": "Ann L."}
        assert "secret lunch" not in json.dumps(got) and ann.email not in json.dumps(got)
        assert next_notification(second, 5)["notification_id"] == got["notification_id"]  # every connection
    print(f"transfer -> WebSocket notification in {took * 1000:.0f} ms")

    inbox = bob.api.request("GET", "/notifications").json()
    assert inbox["unread_count"] == 1 and [n["notification_id"] for n in inbox["items"]] == [got["notification_id"]]


def test_a_missing_forged_or_expired_token_is_refused_at_the_handshake(stack, new_user):
    bob = new_user(phone=None)
    token = bob.tokens["access_token"]
    head, payload, sig = token.split(".")
    forged = f"{head}.{payload}.{sig[::-1]}"
    for query in ("", "?token=", f"?token={forged}", "?token=not.a.jwt", f"?other={token}"):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{stack['WS_URL']}{query}", open_timeout=5)
        assert refused.value.response.status_code in (401, 403), query
    r = bob.api.request("POST", "/auth/logout", {"refresh_token": bob.tokens["refresh_token"]})
    assert r.status_code == 204
    with pytest.raises(InvalidStatus):  # the session is over: its access token no longer connects
        connect(f"{stack['WS_URL']}?token={token}", open_timeout=5)


def test_requests_notify_both_sides_once_and_the_inbox_reads(stack, new_user, fund):
    ann, bob = new_user(), new_user(phone=None)
    fund(default_wallet(bob)["wallet_id"], 5000)
    r = ann.api.request("POST", "/payment-requests", {"payer": {"email": bob.email}, "amount": 300,
                                                      "currency": "USD", "memo": "private"})
    assert r.status_code == 201, r.text
    rid = r.json()["request_id"]

    def inbox(user, unread=False):
        return user.api.request("GET", "/notifications" + ("?unread=true" if unread else "")).json()

    received = wait_for(lambda: [n for n in inbox(bob)["items"] if n["type"] == "payment_request.received"],
                        timeout=10)
    assert received[0]["data"]["request_id"] == rid and received[0]["data"]["counterparty"]["user_id"] == \
        ann.user["user_id"]
    r = bob.api.request("POST", f"/payment-requests/{rid}/pay", {"wallet_id": default_wallet(bob)["wallet_id"]},
                        headers={"Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    kinds = wait_for(lambda: (lambda k: k if {"payment_request.paid", "transfer.received"} <= set(k) else None)(
        sorted(n["type"] for n in inbox(ann)["items"])), timeout=10)
    assert kinds == ["payment_request.paid", "transfer.received"]  # once each
    assert "private" not in json.dumps(inbox(ann)) and bob.email not in json.dumps(inbox(ann))

    page = inbox(ann)
    assert page["unread_count"] == 2
    first = page["items"][0]["notification_id"]
    assert ann.api.request("POST", f"/notifications/{first}/read").status_code == 204
    assert ann.api.request("POST", f"/notifications/{first}/read").status_code == 204  # again: still fine
    assert inbox(ann)["unread_count"] == 1 and len(inbox(ann, unread=True)["items"]) == 1
    r = bob.api.request("POST", f"/notifications/{first}/read")  # not his
    assert r.status_code == 404 and code(r) == "not_found"
    assert ann.api.request("POST", "/notifications/read-all").status_code == 204
    assert inbox(ann, unread=True) == {"items": [], "next_cursor": None, "unread_count": 0}
    assert [n["read"] for n in inbox(ann)["items"]] == [True, True]
    r = ann.api.request("GET", "/notifications?cursor=bm9wZQ")
    assert r.status_code == 400 and code(r) == "invalid_request"
