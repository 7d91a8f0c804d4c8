"""Load on the whole HTTP path of the dev stack: N users, 16 concurrent clients, random P2P
transfers (some of them overdraft attempts) for a fixed count.

Prints one line: ok transfers/s, p50/p99 latency of every request, the 5xx count, and the money
check: the users' balances sum to the same before and after (the transfers only move money
among them), and the ledger reconciles with no drift (balances vs legs, sum zero per currency).
"""
from __future__ import annotations

import random
import statistics
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from bench import report
from bench.stack import local_stack

USERS = 24
CLIENTS = 16
TRANSFERS = 960
FUNDS = 5_000  # minor units per user: amounts up to 1,500 make overdraft attempts common
PASSWORD = "correct horse battery staple 42"


def main() -> None:
    with local_stack() as env:
        _run(env["API_URL"])


def _person(api: str) -> tuple[str, str]:
    email = f"load.{uuid.uuid4().hex[:10]}@example.com"
    r = requests.post(f"{api}/auth/register", json={"email": email, "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    _verify_email(r.json()["user"]["user_id"], email)
    token = requests.post(f"{api}/auth/login", json={"email": email, "password": PASSWORD}, timeout=30).json()
    wallets = requests.get(f"{api}/wallets", headers={"Authorization": f"Bearer {token['access_token']}"},
                           timeout=30).json()
    return token["access_token"], wallets["items"][0]["wallet_id"]


def _verify_email(user_id: str, email: str) -> None:
    """As if the code had been typed back: an account without a verified contact may not pay."""
    from chalicelib.container import get_container
    from chalicelib.domain.contact import email_lookup_key, identity_key

    c = get_container()
    assert c.tables_bound
    c.users.confirm_email(user_id, identity_key(email_lookup_key(email), c.blind_index), None)


def _balances(api: str, people: list[tuple[str, str]]) -> int:
    total = 0
    for token, wallet in people:
        w = requests.get(f"{api}/wallets/{wallet}", headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        total += int(w["balance"])
    return total


def _run(api: str) -> None:
    from chalicelib.container import get_container
    from chalicelib.domain.ids import new_id
    from chalicelib.domain.money import Money
    from chalicelib.services.reconcile import reconcile

    c = get_container()
    assert c.tables_bound
    with ThreadPoolExecutor(8) as pool:
        people = list(pool.map(lambda _: _person(api), range(USERS)))
    for _, wallet in people:
        assert c.ledger.credit_from_system("stripe_clearing", wallet, Money(FUNDS, "USD"), new_id("tp"))
    before = _balances(api, people)

    rng = random.Random(7)
    plan = []
    for _ in range(TRANSFERS):
        a, b = rng.sample(range(USERS), 2)
        plan.append((a, b, rng.randint(1, 1_500)))
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()
    sessions = threading.local()

    def send(step: tuple[int, int, int]) -> None:
        a, b, amount = step
        s = getattr(sessions, "s", None) or requests.Session()
        sessions.s = s
        token, source = people[a]
        t = time.perf_counter()
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
        body: dict[str, Any] = {"from_wallet_id": source, "to": {"wallet_id": people[b][1]}, "amount": amount,
                                "currency": "USD"}
        r = s.post(f"{api}/transfers", headers=headers, json=body, timeout=60)
        elapsed = time.perf_counter() - t
        with lock:
            statuses[r.status_code] += 1
            latencies.append(elapsed)

    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(send, plan))
    wall = time.perf_counter() - start
    after = _balances(api, people)
    drift = len(reconcile(c.ledger_store, offline=c.offline_store).drift)
    ok, refused = statuses[201], statuses[422]
    five = sum(n for code, n in statuses.items() if code >= 500)
    other = sum(n for code, n in statuses.items() if code not in (201, 422) and code < 500)
    cuts = statistics.quantiles(latencies, n=100)
    report(f"load: {USERS} users, {CLIENTS} clients, {TRANSFERS} transfers in {wall:.1f} s: {ok / wall:.1f} ok "
           f"transfers/s ({ok} ok, {refused} refused for funds, {other} other), p50 {cuts[49] * 1000:.0f} ms, "
           f"p99 {cuts[98] * 1000:.0f} ms, 5xx {five}; money: users' sum {before} before, {after} after "
           f"({'equal' if before == after else 'DRIFT'}), reconciliation drift {drift}")


if __name__ == "__main__":
    main()
