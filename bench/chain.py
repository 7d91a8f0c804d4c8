"""What the hash chain costs a transfer (docs/statements.md), on DynamoDB Local.

The chain is computed from the entries stream, so a transfer's own path is unchanged (the same
one batch read and one transaction of the same items). What it costs is the chainer's work,
off that path: this measures it in its worst case (every entry its own chain write, as when a
stream batch holds one entry per wallet) against the transfers it chains, in the same run:

chain_cost: per transfer, the chainer's 2 writes take X ms and Y WCU vs the transfer's own
X' ms and Y' WCU: ratio ...
"""
from __future__ import annotations

import statistics
import time
import uuid

from bench import report
from bench.stack import local_stack

N = 40


def main() -> None:
    with local_stack():
        _run()


def _run() -> None:
    from chalicelib.adapters.dynamodb.chain import DynamoChain
    from chalicelib.adapters.dynamodb.ledger import DynamoLedger
    from chalicelib.container import get_container
    from chalicelib.domain.commands import SendTransfer
    from chalicelib.domain.ids import new_id
    from chalicelib.domain.ledger import Movement
    from chalicelib.domain.money import Money
    from chalicelib.domain.statements import Posting
    from chalicelib.services.statements import Chainer

    c = get_container()
    assert c.tables_bound
    store, chains = c.ledger_store, c.chain_store
    assert isinstance(store, DynamoLedger) and isinstance(chains, DynamoChain)
    store.measure_capacity = chains.measure_capacity = True  # off in the product

    def wallet() -> tuple[str, str]:
        p = c.identity.register(f"chain.{uuid.uuid4().hex[:8]}@example.com", "correct horse battery staple 42")
        return p.user_id, c.ledger.wallets(p.user_id)[0].wallet_id

    (a, wa), (_, wb) = wallet(), wallet()
    c.ledger.credit_from_system("stripe_clearing", wa, Money(10**8, "USD"), new_id("tp"))
    chainer = Chainer(chains)

    def wcu(consumed: list[dict]) -> float:
        return float(sum(x.get("CapacityUnits", 0) for x in consumed))

    transfer_ms, transfer_wcu, chain_ms, chain_wcu = [], [], [], []
    pay = SendTransfer(wa, to_wallet_id=wb, amount=1, currency="USD")
    c.ledger.transfer(a, uuid.uuid4().hex, pay)  # warm
    for _ in range(N):
        t = time.perf_counter()
        c.ledger.transfer(a, uuid.uuid4().hex, pay)
        transfer_ms.append(time.perf_counter() - t)
        transfer_wcu.append(wcu(store.last_consumed))
        # The same two legs again, written pending (the stack's own chainer leaves those alone)
        # and chained here: what the chainer does for every posted transfer.
        tid, now = f"bench_{uuid.uuid4().hex}", "2026-01-01T00:00:00.000Z"
        m = Movement(tid, "transfer", f"bench_a_{tid}", f"bench_b_{tid}", Money(1, "USD"), "a", "b")
        legs = []
        for w, leg in ((m.from_wallet, "d"), (m.to_wallet, "c")):
            sk = f"{int(time.time() * 1000):013d}#{tid}#{leg}"
            put = store._entry_put(w, sk, m, "debit" if leg == "d" else "credit", "pending", "x", "o", now)
            store._ddb.put_item(TableName=put["Put"]["TableName"], Item=put["Put"]["Item"])
            legs.append(Posting(w, sk, w, now, tid, "transfer", "debit" if leg == "d" else "credit", 1, "USD"))
        spent, units = 0.0, 0.0
        for posting in legs:  # one write per entry: the worst case (a stream batch of different wallets)
            t = time.perf_counter()
            chainer.chain([posting])
            spent += time.perf_counter() - t
            units += wcu(chains.last_consumed)
        chain_ms.append(spent)
        chain_wcu.append(units)
    tm, cm = statistics.median(transfer_ms), statistics.median(chain_ms)
    tw, cw = statistics.median(transfer_wcu), statistics.median(chain_wcu)
    report(f"chain_cost: per transfer, the chainer (off the request path: the transfer keeps its 2 round trips "
           f"and its items) spends {cm * 1000:.1f} ms and {cw:g} WCU in 2 writes vs the transfer's own "
           f"{tm * 1000:.1f} ms and {tw:g} WCU: ratio {cm / tm:.2f} in time, {cw / tw:.2f} in capacity (n={N}, "
           f"worst case: one chain write per entry)")


if __name__ == "__main__":
    main()
