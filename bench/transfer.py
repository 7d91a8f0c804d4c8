"""P2P transfer cost on DynamoDB Local.

Prints, in one line each:
- DynamoDB calls and consumed write capacity of one POST /transfers (ReturnConsumedCapacity);
- latency of a transfer through the Lambda handler (routing, auth, validation, encryption,
  idempotency, its two round trips) relative to a bare transact_write_items of the very
  transaction the handler sends (captured from a warm-up request and replayed with fresh ids:
  the same items, condition check included, of the same sizes), and the same batch read;
- throughput of 16 clients paying 16 wallets vs ONE merchant wallet with credit shards (and
  one without), balances checked: the line ends `ratio hot/spread X.XX`.
"""
from __future__ import annotations

import copy
import json
import statistics
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench import report
from bench.calls import dynamodb_calls
from bench.stack import local_stack, verified_person

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
    ddb = store._ddb

    with Client(chalice_app.app) as client:
        _, a_tok, wa, _ = verified_person(c)
        _, _, wb, b_email = verified_person(c)
        c.ledger.credit_from_system("stripe_clearing", wa, Money(10**8, "USD"), new_id("tp"))

        def post(key: str, to: dict[str, str] | None = None) -> int:
            r = client.http.post("/transfers", headers={"Authorization": f"Bearer {a_tok}",
                                                         "Content-Type": "application/json", "Idempotency-Key": key},
                                 body=json.dumps({"from_wallet_id": wa, "to": to or {"wallet_id": wb}, "amount": 1,
                                                  "currency": "USD"}))
            return int(r.status_code)

        store.measure_capacity = True  # off in the product (adapters.dynamodb.connection)
        post(uuid.uuid4().hex)  # warm: imports, keys, connections
        counted = []
        for label, to in (("by e-mail", {"email": b_email}), ("by wallet id", {"wallet_id": wb})):
            with dynamodb_calls(ddb) as calls:
                assert post(uuid.uuid4().hex, to) == 201
            counted.append(f"{label} {len(calls)} ({', '.join(calls)})")
        consumed = store.last_consumed
        wcu = sum(x.get("CapacityUnits", x.get("WriteCapacityUnits", 0)) for x in consumed)
        report(f"transfer_cost: DynamoDB round trips per POST /transfers: {'; '.join(counted)}; "
               f"the transaction consumed {wcu:g} WCU over {len(consumed)} tables as DynamoDB Local counts them "
               f"(one item a table: AWS's rule, on the capacity line, is the goal's)")

        # The handler's own two calls, captured from one more request and replayed by hand with
        # fresh ids: the bare series sends exactly what the handler sends, nothing less.
        replay = Replay(ddb, lambda: post(uuid.uuid4().hex))
        # Interleaved, so that DynamoDB Local warming up (its JIT, its tables growing) weighs
        # on both series alike.
        handler, bare, reads = [], [], []
        for _ in range(N):
            t = time.perf_counter()
            assert post(uuid.uuid4().hex) == 201
            handler.append(time.perf_counter() - t)
            write, read = replay.calls()
            t = time.perf_counter()
            ddb.transact_write_items(**write)
            bare.append(time.perf_counter() - t)
            t = time.perf_counter()
            ddb.batch_get_item(**read)
            reads.append(time.perf_counter() - t)
        h, b, r = statistics.median(handler), statistics.median(bare), statistics.median(reads)
        report(f"transfer_latency: handler median {h * 1000:.1f} ms vs bare transact_write_items "
               f"{b * 1000:.1f} ms, ratio {h / b:.2f} (goal <= 1.4 {'met' if h / b <= 1.4 else 'NOT met'}); the same "
               f"bare batch_get_item is "
               f"{r * 1000:.1f} ms, so the two round trips alone are {(b + r) / b:.2f}x and the handler adds "
               f"{(h - b - r) * 1000:.1f} ms of its own (n={N} each, interleaved; the bare calls are the "
               f"handler's own, replayed)")

    _hot_wallet(c)


class Replay:
    """The handler's own two DynamoDB calls, captured from one request, to be sent again by hand
    with fresh ids (a new transfer and idempotency key each time: new items of the same sizes)."""

    def __init__(self, ddb: Any, request: Callable[[], int]) -> None:
        self.sent = _captured(ddb, request)
        self.minted = _minted(self.sent["TransactWriteItems"])

    def calls(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the transaction's parameters, the batch read's), with fresh ids."""
        stand_ins = _stand_ins(self.minted)
        return _fresh(self.sent["TransactWriteItems"], stand_ins), _fresh(self.sent["BatchGetItem"], stand_ins)


def _captured(ddb: Any, request: Callable[[], int]) -> dict[str, dict[str, Any]]:
    """The parameters of each DynamoDB call `request` makes through the ledger's client."""
    sent: dict[str, dict[str, Any]] = {}

    def keep(params: dict[str, Any], model: Any, **_: Any) -> None:
        sent[model.name] = copy.deepcopy(params)

    ddb.meta.events.register("provide-client-params.dynamodb", keep)
    try:
        assert request() == 201
    finally:
        ddb.meta.events.unregister("provide-client-params.dynamodb", keep)
    assert set(sent) == {"BatchGetItem", "TransactWriteItems"}, sorted(sent)
    return sent


def _fresh(params: Any, minted: dict[str, str]) -> Any:
    """`params` with each id the request minted replaced by its stand-in in `minted`."""
    if isinstance(params, dict):
        return {_fresh(k, minted): _fresh(v, minted) for k, v in params.items()}
    if isinstance(params, list):
        return [_fresh(v, minted) for v in params]
    if isinstance(params, str):
        for old, new in minted.items():
            params = params.replace(old, new)
    return params


def _stand_ins(ids: list[str]) -> dict[str, str]:
    """A new id of the same length for each (so that a replay writes new items of the same sizes)."""
    return {old: old[:4] + uuid.uuid4().hex.ljust(len(old), "0")[:len(old) - 4] for old in ids}


def _minted(transact: dict[str, Any]) -> list[str]:
    """The ids a transfer's transaction mints: its transfer id (the payment's record answers
    its retries), and an idempotency record's key where one is written."""
    puts = [i["Put"]["Item"] for i in transact["TransactItems"] if "Put" in i]
    ids = {p["transfer_id"]["S"] for p in puts if "transfer_id" in p}
    keys = [p["key"]["S"] for p in puts if "status_code" in p]
    assert len(ids) == 1 and len(keys) <= 1, (ids, keys)
    return [*ids, *keys]


def _hot_wallet(c: Any, clients: int = 16, per_client: int = 15, shards: int = 8) -> None:
    """16 payers paying 16 different wallets, then ONE merchant wallet with credit shards, then
    one plain wallet: throughput of each, the money checked, and the hot/spread ratio."""
    from chalicelib.domain.commands import SendTransfer
    from chalicelib.domain.ids import new_id
    from chalicelib.domain.money import Money

    def wallet_of_new_user() -> str:
        p = c.identity.register(f"hot.{uuid.uuid4().hex[:8]}@example.com", "correct horse battery staple 42")
        return str(c.ledger.wallets(p.user_id)[0].wallet_id)

    payers = []
    for _ in range(clients):
        w = wallet_of_new_user()
        c.ledger.credit_from_system("stripe_clearing", w, Money(10**6, "USD"), new_id("tp"))
        payers.append((c.ledger_store.get_wallet(w).owner_id, w))

    def run(targets: list[str]) -> tuple[float, int, int]:
        errors: list[str] = []
        retries: list[int] = []

        def pay(i: int) -> None:
            payer = payers[i]
            for _ in range(per_client):
                try:
                    c.ledger.transfer(payer[0], uuid.uuid4().hex, SendTransfer(
                        payer[1], to_wallet_id=targets[i % len(targets)], amount=1, currency="USD"))
                    retries.append(c.ledger_store.last_attempts - 1)
                except Exception as exc:  # noqa: BLE001 - counted, not hidden
                    errors.append(type(exc).__name__)

        t = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(pay, range(clients)))
        took = time.perf_counter() - t
        done = clients * per_client - len(errors)
        received = sum(c.ledger_store.get_wallet(w).balance for w in set(targets))
        assert received == done, f"money check failed: received {received} != {done} transfers"
        return done / took, len(errors), sum(retries)

    spread = [wallet_of_new_user() for _ in range(clients)]
    merchant, plain = wallet_of_new_user(), wallet_of_new_user()
    c.ledger.spread_credits(merchant, shards)
    spread_rate, spread_err, _ = run(spread)
    hot_rate, hot_err, hot_retries = run([merchant])
    plain_rate, plain_err, plain_retries = run([plain])
    report(f"hot_wallet: {clients} clients x {per_client} payments: to {clients} wallets {spread_rate:.0f}/s; to ONE "
           f"merchant wallet with {shards} credit shards {hot_rate:.0f}/s ({hot_retries} conflict retries); to one "
           f"unsharded wallet {plain_rate:.0f}/s ({plain_retries} retries); errors {spread_err + hot_err + plain_err}, "
           f"balances exact; ratio hot/spread {hot_rate / spread_rate:.2f}")


if __name__ == "__main__":
    main()
