"""Payment requests over HTTP: every route, status and error code of the contract, and many
clients paying one request at once (exactly one 201)."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.conftest import uniq_phone
from tests.e2e.test_ledger import code, default_wallet


def ask(user, payer: dict, amount: int = 1500, key: str | None = None, **extra):
    headers = {"Idempotency-Key": key} if key else {}
    return user.api.request("POST", "/payment-requests", {"payer": payer, "amount": amount, "currency": "USD",
                                                          **extra}, headers=headers)


def pay(user, request_id: str, wallet_id: str, key: str | None = None):
    return user.api.request("POST", f"/payment-requests/{request_id}/pay", {"wallet_id": wallet_id},
                            headers={"Idempotency-Key": key or uuid.uuid4().hex})


def test_ask_pay_and_see_it_from_both_sides(new_user, fund):
    ann = new_user(first_name="Ann", last_name="Lee")
    bob = new_user(phone=None)
    fund(default_wallet(bob)["wallet_id"], 5000)
    r = ask(ann, {"email": bob.email.upper()}, memo="pizza", key="ask-1")
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["status"] == "pending" and req["requester"] == {"user_id": ann.user["user_id"],
                                                               "display_name": "Ann L."}
    assert req["payer"]["user_id"] == bob.user["user_id"] and req["memo"] == "pizza" and req["transfer_id"] is None
    assert ann.email not in r.text and bob.email not in r.text
    again = ask(ann, {"email": bob.email.upper()}, memo="pizza", key="ask-1")
    assert again.status_code == 201 and again.json() == req and again.headers["Idempotent-Replayed"] == "true"
    assert ask(ann, {"email": bob.email}, amount=1, key="ask-1").status_code == 409

    incoming = bob.api.request("GET", "/payment-requests?role=incoming&status=pending").json()
    assert [i["request_id"] for i in incoming["items"]] == [req["request_id"]] and incoming["next_cursor"] is None
    assert ann.api.request("GET", "/payment-requests?role=incoming").json()["items"] == []

    wallet = default_wallet(bob)["wallet_id"]
    r = bob.api.request("POST", f"/payment-requests/{req['request_id']}/pay", {"wallet_id": wallet})
    assert r.status_code == 400 and code(r) == "idempotency_key_required"
    r = pay(bob, req["request_id"], wallet, key="pay-1")
    assert r.status_code == 201, r.text
    paid = r.json()
    assert paid["request"]["status"] == "paid" and paid["request"]["transfer_id"] == paid["transfer"]["transfer_id"]
    assert paid["transfer"]["amount"] == 1500 and paid["transfer"]["to_wallet_id"] == default_wallet(ann)["wallet_id"]
    replay = pay(bob, req["request_id"], wallet, key="pay-1")
    assert replay.status_code == 201 and replay.json() == paid and replay.headers["Idempotent-Replayed"] == "true"
    r = pay(bob, req["request_id"], wallet)
    assert r.status_code == 409 and code(r) == "request_not_pending"
    assert default_wallet(ann)["balance"] == 1500 and default_wallet(bob)["balance"] == 3500
    assert ann.api.request("GET", f"/payment-requests/{req['request_id']}").json()["status"] == "paid"
    assert ann.api.request("GET", f"/transfers/{paid['transfer']['transfer_id']}").status_code == 200


def test_refusals_have_the_contract_codes_and_change_nothing(new_user, fund):
    ann, bob, eve = new_user(), new_user(phone=None), new_user()
    unverified = new_user(verified=False)
    for payer in ({"email": unverified.email}, {"email": "nobody-" + uuid.uuid4().hex[:6] + "@example.com"},
                  {"phone": uniq_phone()}):
        r = ask(ann, payer)
        assert r.status_code == 404 and code(r) == "recipient_not_found", r.text
    r = ask(ann, {"email": ann.email})
    assert r.status_code == 422 and code(r) == "same_wallet"
    for bad in ({"payer": {"email": bob.email, "phone": "+6580000000"}, "amount": 1, "currency": "USD"},
                {"payer": {"email": bob.email}, "amount": 0, "currency": "USD"},
                {"payer": {"email": bob.email}, "amount": 100, "currency": "USD", "expires_in": 59},
                {"payer": {"email": bob.email}, "amount": 100, "currency": "USD", "expires_in": 30 * 86400 + 1},
                {"payer": {"email": bob.email}, "amount": 100, "currency": "XXX"}):
        r = ann.api.request("POST", "/payment-requests", bad)
        assert r.status_code == 400 and code(r) == "invalid_request", (bad, r.text)
    assert ann.api.request("GET", "/payment-requests").json()["items"] == []

    req = ask(ann, {"email": bob.email}, amount=6000).json()
    rid = req["request_id"]
    bob_wallet = default_wallet(bob)["wallet_id"]
    r = pay(bob, rid, bob_wallet)
    assert r.status_code == 422 and code(r) == "insufficient_funds"
    for who, path in ((eve, ""), (eve, "/decline"), (eve, "/cancel"), (ann, "/decline"), (bob, "/cancel")):
        method = "GET" if not path else "POST"
        r = who.api.request(method, f"/payment-requests/{rid}{path}")
        assert r.status_code == 404 and code(r) == "not_found", (path, r.text)
    for who, wallet in ((eve, default_wallet(eve)["wallet_id"]), (ann, default_wallet(ann)["wallet_id"]),
                        (bob, default_wallet(ann)["wallet_id"])):
        r = pay(who, rid, wallet)
        assert r.status_code == 404 and code(r) == "not_found", r.text
    r = bob.api.request("POST", f"/payment-requests/{rid}/decline")
    assert r.status_code == 200 and r.json()["status"] == "declined"
    fund(bob_wallet, 10_000)
    r = pay(bob, rid, bob_wallet)
    assert r.status_code == 409 and code(r) == "request_not_pending"
    other = ask(ann, {"email": bob.email}).json()["request_id"]
    assert ann.api.request("POST", f"/payment-requests/{other}/cancel").json()["status"] == "canceled"
    r = ann.api.request("POST", f"/payment-requests/{other}/cancel")
    assert r.status_code == 409 and code(r) == "request_not_pending"
    assert default_wallet(ann)["balance"] == 0 and default_wallet(bob)["balance"] == 10_000
    r = ann.api.request("GET", "/payment-requests?role=sideways")
    assert r.status_code == 400 and code(r) == "invalid_request"
    r = ann.api.request("GET", "/payment-requests?cursor=bm9wZQ")
    assert r.status_code == 400 and code(r) == "invalid_request"


def test_many_clients_paying_one_request_exactly_one_succeeds(new_user, fund):
    ann, bob = new_user(), new_user(phone=None)
    bob_wallet = default_wallet(bob)["wallet_id"]
    fund(bob_wallet, 50_000)
    rid = ask(ann, {"email": bob.email}, amount=2500).json()["request_id"]
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: pay(bob, rid, bob_wallet), range(10)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] + [409] * 9, [r.text for r in results]
    assert all(code(r) == "request_not_pending" for r in results if r.status_code == 409)
    assert default_wallet(bob)["balance"] == 47_500 and default_wallet(ann)["balance"] == 2500
