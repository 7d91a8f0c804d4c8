"""Wallets and transfers over HTTP; the concurrency stress test; reconciliation at the end."""
from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor

from chalicelib.services.reconcile import reconcile
from tests.e2e.conftest import Api, uniq_email, uniq_phone


def code(r):
    try:
        return r.json()["error"]["code"]
    except Exception:  # noqa: BLE001
        return None


def default_wallet(user) -> dict:
    return user.api.request("GET", "/wallets").json()["items"][0]


def send(user, body: dict, key: str | None = None):
    return user.api.request("POST", "/transfers", body, headers={"Idempotency-Key": key or uuid.uuid4().hex})


def test_wallets(new_user):
    u, other = new_user(), new_user()
    items = u.api.request("GET", "/wallets").json()["items"]
    assert len(items) == 1 and items[0]["currency"] == "USD" and items[0]["is_default"]
    assert {k for k in items[0]} >= {"wallet_id", "currency", "name", "balance", "held", "available", "created_at"}
    r = u.api.request("POST", "/wallets", {"currency": "EUR", "name": "Travel"})
    assert r.status_code == 201 and r.json()["currency"] == "EUR" and r.json()["balance"] == 0
    assert u.api.request("GET", f"/wallets/{r.json()['wallet_id']}").json()["name"] == "Travel"
    assert len(u.api.request("GET", "/wallets").json()["items"]) == 2
    for bad in [{"currency": "usd"}, {"currency": "XXX"}, {"currency": "CHF"}, {}]:
        resp = u.api.request("POST", "/wallets", bad)
        assert resp.status_code == 400 and code(resp) == "invalid_request", bad
    theirs = default_wallet(other)["wallet_id"]
    for path in [f"/wallets/{theirs}", f"/wallets/{theirs}/transactions", "/wallets/wal_nope"]:
        resp = u.api.request("GET", path)
        assert resp.status_code == 404 and code(resp) == "not_found", path


def test_pay_by_email_phone_and_wallet_with_replay(new_user, fund):
    alice, bob = new_user(), new_user(phone=uniq_phone())
    wa = default_wallet(alice)["wallet_id"]
    fund(wa, 10_000)
    body = {"from_wallet_id": wa, "to": {"email": bob.email}, "amount": 1250, "currency": "USD", "memo": "pizza"}
    key = uuid.uuid4().hex
    r = send(alice, body, key)
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["status"] == "posted" and t["amount"] == 1250 and t["memo"] == "pizza"
    again = send(alice, body, key)
    assert again.status_code == 201 and again.json() == t and again.headers["Idempotent-Replayed"] == "true"
    reused = send(alice, dict(body, amount=1), key)
    assert reused.status_code == 409 and code(reused) == "idempotency_key_reused"
    assert send(alice, dict(body, to={"phone": bob.user["phone"]}, amount=250)).status_code == 201
    wb = default_wallet(bob)["wallet_id"]
    assert send(alice, dict(body, to={"wallet_id": wb}, amount=500)).status_code == 201
    assert alice.api.request("GET", f"/wallets/{wa}").json()["balance"] == 8000
    assert default_wallet(bob)["balance"] == 2000
    # The transfer is visible to both parties and nobody else.
    assert bob.api.request("GET", f"/transfers/{t['transfer_id']}").json() == t
    assert alice.api.request("GET", f"/transfers/{t['transfer_id']}").json() == t
    assert new_user().api.request("GET", f"/transfers/{t['transfer_id']}").status_code == 404
    stmt = bob.api.request("GET", f"/wallets/{wb}/transactions").json()
    assert [e["amount"] for e in stmt["items"]] == [500, 250, 1250] and stmt["next_cursor"] is None
    assert stmt["items"][-1]["memo"] == "pizza" and stmt["items"][-1]["direction"] == "credit"


def test_money_lands_in_a_default_wallet_opened_for_the_currency(new_user, fund):
    alice, bob = new_user(), new_user()
    eur = alice.api.request("POST", "/wallets", {"currency": "EUR"}).json()["wallet_id"]
    fund(eur, 900, "EUR")
    r = send(alice, {"from_wallet_id": eur, "to": {"email": bob.email}, "amount": 900, "currency": "EUR"})
    assert r.status_code == 201, r.text
    bob_eur = [w for w in bob.api.request("GET", "/wallets").json()["items"] if w["currency"] == "EUR"]
    assert len(bob_eur) == 1 and bob_eur[0]["balance"] == 900 and bob_eur[0]["is_default"]


def test_transfer_errors_change_nothing(new_user, fund):
    alice, bob = new_user(), new_user()
    wa, wb = default_wallet(alice)["wallet_id"], default_wallet(bob)["wallet_id"]
    eur = bob.api.request("POST", "/wallets", {"currency": "EUR"}).json()["wallet_id"]
    fund(wa, 1000)
    base = {"from_wallet_id": wa, "to": {"wallet_id": wb}, "amount": 100, "currency": "USD"}
    cases = [
        (dict(base, amount=1001), 422, "insufficient_funds"),
        (dict(base, to={"wallet_id": eur}), 422, "currency_mismatch"),
        (dict(base, currency="EUR"), 422, "currency_mismatch"),
        (dict(base, to={"wallet_id": wa}), 422, "same_wallet"),
        (dict(base, to={"email": uniq_email("ghost")}), 404, "recipient_not_found"),
        (dict(base, to={"phone": "+6581234567"}), 404, "recipient_not_found"),
        (dict(base, to={"wallet_id": "wal_nope"}), 404, "recipient_not_found"),
        (dict(base, from_wallet_id=wb), 404, "not_found"),
        (dict(base, amount=100_000_001), 400, "invalid_request"),
        (dict(base, amount=12.5), 400, "invalid_request"),
        (dict(base, amount=100.0), 400, "invalid_request"),
        (dict(base, amount=True), 400, "invalid_request"),
        (dict(base, amount="100"), 400, "invalid_request"),
        (dict(base, amount=0), 400, "invalid_request"),
        (dict(base, amount=-5), 400, "invalid_request"),
        (dict(base, currency="usd"), 400, "invalid_request"),
        (dict(base, currency="XYZ"), 400, "invalid_request"),
        (dict(base, to={}), 400, "invalid_request"),
        (dict(base, to={"email": "x@example.com", "wallet_id": wb}), 400, "invalid_request"),
        (dict(base, to={"email": "not-an-email"}), 400, "invalid_request"),
    ]
    for body, status, err in cases:
        r = send(alice, body)
        assert (r.status_code, code(r)) == (status, err), (body, r.text)
    r = alice.api.request("POST", "/transfers", base)  # no Idempotency-Key
    assert r.status_code == 400 and code(r) == "idempotency_key_required"
    r = send(alice, base, key="k" * 256)
    assert r.status_code == 400 and code(r) == "idempotency_key_required"
    assert alice.api.request("GET", f"/wallets/{wa}").json()["balance"] == 1000
    assert default_wallet(bob)["balance"] == 0
    assert len(alice.api.request("GET", f"/wallets/{wa}/transactions").json()["items"]) == 1


def test_daily_limit_and_per_transfer_maximum(new_user, fund):
    alice, bob = new_user(), new_user()
    wa, wb = default_wallet(alice)["wallet_id"], default_wallet(bob)["wallet_id"]
    fund(wa, 150_000_000)  # 1.5M USD
    base = {"from_wallet_id": wa, "to": {"wallet_id": wb}, "currency": "USD"}
    assert send(alice, dict(base, amount=100_000_000)).status_code == 201  # exactly the maximum
    r = send(alice, dict(base, amount=1))
    assert r.status_code == 422 and code(r) == "limit_exceeded"
    assert alice.api.request("GET", f"/wallets/{wa}").json()["balance"] == 50_000_000


def test_statement_pagination(new_user, fund):
    alice, bob = new_user(), new_user()
    wa, wb = default_wallet(alice)["wallet_id"], default_wallet(bob)["wallet_id"]
    fund(wa, 1000)
    for i in range(7):
        assert send(alice, {"from_wallet_id": wa, "to": {"wallet_id": wb}, "amount": i + 1,
                            "currency": "USD"}).status_code == 201
    amounts, cursor = [], None
    while True:
        q = f"?limit=3&cursor={cursor}" if cursor else "?limit=3"
        page = alice.api.request("GET", f"/wallets/{wa}/transactions{q}").json()
        assert len(page["items"]) <= 3
        amounts += [e["amount"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert amounts == [7, 6, 5, 4, 3, 2, 1, 1000]
    for q in ["?limit=0", "?limit=101", "?limit=abc", "?cursor=garbage"]:
        r = alice.api.request("GET", f"/wallets/{wa}/transactions{q}")
        assert r.status_code == 400 and code(r) == "invalid_request", q


def test_stress_sixteen_clients_conserve_money(api, new_user, fund, stack_container):
    """16 concurrent clients, hundreds of random transfers among a handful of wallets, with
    overdraft attempts and concurrent retries of the same key: no 5xx, no negative balance, no
    money created or lost, and the reconciliation finds no drift."""
    users = [new_user() for _ in range(5)]
    wallets = [default_wallet(u)["wallet_id"] for u in users]
    for w in wallets:
        fund(w, 5_000)
    total = 5 * 5_000
    rng = random.Random(42)
    plan = []
    for i in range(400):
        src, dst = rng.sample(range(5), 2)
        amount = rng.choice([1, 7, 50, 333, 1200, 6000])  # 6000 always overdraws
        key = f"stress-{i // 2}" if i % 10 < 2 else uuid.uuid4().hex  # pairs of concurrent retries
        plan.append((src, dst, amount, key))
    clients = [Api(api.base, users[s].tokens["access_token"]) for s in range(5)]

    def run(step):
        src, dst, amount, key = step
        body = {"from_wallet_id": wallets[src], "to": {"wallet_id": wallets[dst]}, "amount": amount,
                "currency": "USD"}
        r = clients[src].request("POST", "/transfers", body, headers={"Idempotency-Key": key})
        return r.status_code, code(r)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(run, plan))
    statuses = [s for s, _ in results]
    assert not [s for s in statuses if s >= 500], results
    assert statuses.count(201) > 100 and ("insufficient_funds" in {c for _, c in results})
    assert {c for s, c in results if s != 201} <= {"insufficient_funds", "idempotency_key_reused"}
    balances = [clients[i].request("GET", f"/wallets/{w}").json() for i, w in enumerate(wallets)]
    assert all(b["balance"] >= 0 and b["available"] >= 0 for b in balances)
    assert sum(b["balance"] for b in balances) == total
    report = reconcile(stack_container.ledger_store)
    assert report.ok, report.drift[:5]
