"""P2P transfer cost on DynamoDB Local.

Prints, in one line each:
- DynamoDB calls and consumed write capacity of one POST /transfers (ReturnConsumedCapacity);
- latency of a transfer through the Lambda handler (routing, auth, validation, encryption,
  idempotency, the transaction) relative to a bare transact_write_items of the same 7 items;
- throughput and errors of many concurrent clients paying into one hot wallet.
"""
from __future__ import annotations

import json
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench import report
from bench.stack import local_stack

N = 60


def main() -> None:
    with local_stack() as env:
        _run(env)


def _run(env: dict[str, str]) -> None:
    from chalice.test import Client

    import app as chalice_app
    from chalicelib.adapters.dynamodb.ledger import DynamoLedger
    from chalicelib.container import get_container
    from chalicelib.domain.ids import new_id
    from chalicelib.domain.money import Money

    c = get_container()
    assert c.tables_bound
    store = c.ledger_store
    assert isinstance(store, DynamoLedger)  # the bench reads what the DynamoDB store measures
    calls: list[str] = []
    ddb = store._ddb
    ddb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))

    def person() -> tuple[str, str, str]:
        email = f"bench.{uuid.uuid4().hex[:8]}@example.com"
        profile = c.identity.register(email, "correct horse battery staple 42")
        token = c.identity.login("correct horse battery staple 42", email=email).access_token
        return profile.user_id, token, c.ledger.wallets(profile.user_id)[0].wallet_id

    with Client(chalice_app.app) as client:
        _, a_tok, wa = person()
        _, _, wb = person()
        c.ledger.credit_from_system("stripe_clearing", wa, Money(10**8, "USD"), new_id("tp"))

        def post(key: str, to: str = wb, token: str = a_tok, src: str = wa) -> int:
            r = client.http.post("/transfers", headers={"Authorization": f"Bearer {token}",
                                                         "Content-Type": "application/json", "Idempotency-Key": key},
                                 body=json.dumps({"from_wallet_id": src, "to": {"wallet_id": to}, "amount": 1,
                                                  "currency": "USD"}))
            return int(r.status_code)

        post(uuid.uuid4().hex)  # warm: imports, keys, connections
        # All DynamoDB calls happen on the ledger's client and the PynamoDB connection; count both.
        from pynamodb.connection.base import Connection

        pyn_calls: list[str] = []
        original = Connection.dispatch

        def counting(self: Any, operation_name: str, operation_kwargs: Any) -> Any:
            pyn_calls.append(operation_name)
            return original(self, operation_name, operation_kwargs)

        Connection.dispatch = counting  # type: ignore[method-assign]
        calls.clear()
        assert post(uuid.uuid4().hex) == 201
        Connection.dispatch = original  # type: ignore[method-assign]
        consumed = store.last_consumed
        wcu = sum(x.get("CapacityUnits", x.get("WriteCapacityUnits", 0)) for x in consumed)
        report(f"transfer_cost: {len(calls) + len(pyn_calls)} DynamoDB calls per transfer "
              f"({', '.join(sorted(calls + pyn_calls))}); transaction consumed {wcu:g} WCU over "
              f"{len(consumed)} tables")

        handler = []
        for _ in range(N):
            t = time.perf_counter()
            assert post(uuid.uuid4().hex) == 201
            handler.append(time.perf_counter() - t)
        bare = []
        for _ in range(N):
            items = _bare_items(c, wa, wb)
            t = time.perf_counter()
            ddb.transact_write_items(TransactItems=items)
            bare.append(time.perf_counter() - t)
        h, b = statistics.median(handler), statistics.median(bare)
        report(f"transfer_latency: handler median {h * 1000:.1f} ms vs bare transact_write_items "
              f"{b * 1000:.1f} ms, ratio {h / b:.2f} (n={N} each)")

    _hot_wallet(c)


def _bare_items(c: Any, wa: str, wb: str) -> list[dict[str, Any]]:
    """The same 7 writes a transfer makes, built by hand (no validation, no encryption)."""
    from chalicelib.adapters.dynamodb.ledger import DailyLimit, IdempotencyPut
    from chalicelib.domain.ledger import Movement
    from chalicelib.domain.money import Money

    s = c.ledger_store
    tid = f"bare_{uuid.uuid4().hex}"
    m = Movement(tid, "transfer", wa, wb, Money(1, "USD"), "a", "b")
    now, ms = "2026-01-01T00:00:00.000Z", int(time.time() * 1000)
    return [s._debit(wa, 1, "USD", now), s._credit(wb, 1, "USD", now),
            s._transfer_put(m, "posted", now, None, None, f"{ms}#{tid}#d"),
            s._entry_put(wa, f"{ms:013d}#{tid}#d", m, "debit", "posted", wb, "a", now),
            s._entry_put(wb, f"{ms:013d}#{tid}#c", m, "credit", "posted", wa, "b", now),
            s._idempotency_put(IdempotencyPut(f"bare#{tid}", "h", 201, "x", tid, 0), now),
            s._daily_update(DailyLimit(f"bare#{tid}", 10**12, 0), 1)]


def _hot_wallet(c: Any, clients: int = 16, per_client: int = 15) -> None:
    """Many payers, one payee: every transaction updates the same receiving item."""
    from chalicelib.domain.ids import new_id
    from chalicelib.domain.money import Money

    payers = []
    for _ in range(clients):
        email = f"hot.{uuid.uuid4().hex[:8]}@example.com"
        p = c.identity.register(email, "correct horse battery staple 42")
        w = c.ledger.wallets(p.user_id)[0].wallet_id
        c.ledger.credit_from_system("stripe_clearing", w, Money(10**6, "USD"), new_id("tp"))
        payers.append((p.user_id, w))
    hot = c.ledger.wallets(c.identity.register(f"hot.{uuid.uuid4().hex[:8]}@example.com",
                                               "correct horse battery staple 42").user_id)[0].wallet_id
    errors: list[str] = []
    retries: list[int] = []

    def pay(payer: tuple[str, str]) -> None:
        for _ in range(per_client):
            try:
                c.ledger.transfer(payer[0], uuid.uuid4().hex, {"from_wallet_id": payer[1],
                                  "to": {"wallet_id": hot}, "amount": 1, "currency": "USD"})
                retries.append(c.ledger_store.last_attempts - 1)
            except Exception as exc:  # noqa: BLE001 - counted, not hidden
                errors.append(type(exc).__name__)

    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(pay, payers))
    took = time.perf_counter() - t
    done = clients * per_client - len(errors)
    balance = c.ledger_store.get_wallet(hot).balance
    report(f"hot_wallet: {clients} clients x {per_client} payments into one wallet: {done / took:.0f} transfers/s, "
          f"{len(errors)} errors, {sum(retries)} conflict retries, balance {balance} == {done}: {balance == done}")


if __name__ == "__main__":
    main()
