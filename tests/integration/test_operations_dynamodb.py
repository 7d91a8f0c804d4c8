"""Operators' changes racing the people's payments, on DynamoDB Local: a freeze is atomic with
every payment it could meet, a reversal and a resolution happen once however many race."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.domain.errors import AccountFrozen, Conflict
from chalicelib.domain.ids import new_id
from chalicelib.domain.ledger import Movement
from chalicelib.domain.money import Money
from chalicelib.services.reconcile import reconcile
from tests.integration.test_ledger_dynamodb import fund, pay, person


@pytest.fixture
def ops(stack_container):
    return stack_container.operations("arn:aws:sts::123456789012:user/test")


def test_a_freeze_racing_payments_lets_each_through_entirely_or_not_at_all(stack_container, ops):
    ledger = stack_container.ledger
    a, _, wa = person(stack_container)
    _, _, wb = person(stack_container)
    fund(ledger, wa, 100_000)
    outcomes: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        if i == 20:
            ops.set_frozen(a, True, "racing test")
            return
        try:
            pay(ledger, a, wa, {"wallet_id": wb}, 100)
            result = "paid"
        except AccountFrozen:
            result = "frozen"
        with lock:
            outcomes.append(result)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(60)))
    paid = outcomes.count("paid")
    assert paid + outcomes.count("frozen") == 59 and outcomes.count("frozen") > 0
    assert ledger.store.get_wallet(wa).balance == 100_000 - 100 * paid
    assert ledger.store.get_wallet(wb).balance == 100 * paid
    with pytest.raises(AccountFrozen):  # and from now on, nothing
        pay(ledger, a, wa, {"wallet_id": wb}, 1)
    # Money taken back is never blocked by a freeze: a refund-like debit to a system account.
    store = ledger.store
    assert ledger.debit_to_system("stripe_clearing", wa, Money(50, "USD"), new_id("rf"), "refund")
    assert ledger.store.get_wallet(wa).balance == 100_000 - 100 * paid - 50
    assert not Movement("x", "refund", wa, store.system_shard("stripe_clearing", "USD"), Money(1, "USD"), a,
                        "system").by_owner
    report = reconcile(stack_container.ledger_store)
    assert report.ok, report.drift[:5]


def test_concurrent_reversals_and_resolutions_happen_once(stack_container, ops):
    ledger = stack_container.ledger
    a, _, wa = person(stack_container)
    _, _, wb = person(stack_container)
    fund(ledger, wa, 5_000)
    transfer_id = pay(ledger, a, wa, {"wallet_id": wb}, 2_000).body["transfer_id"]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: ops.reverse(transfer_id, "double click"), range(6)))
    assert sum(r["changed"] for r in results) == 1
    assert ledger.store.get_wallet(wa).balance == 5_000 and ledger.store.get_wallet(wb).balance == 0

    withdrawal_id = new_id("wd")
    from chalicelib.domain.unit_of_work import NewWithdrawal

    assert ledger.debit_to_system("payouts", wa, Money(1_500, "USD"), withdrawal_id, "withdrawal", hold=True,
                                  record=NewWithdrawal(withdrawal_id, a, wa, 1_500, "USD", uuid.uuid4().hex,
                                                       "2026-01-01T00:00:00.000Z"))
    assert stack_container.funding_repo.set_withdrawal_status(withdrawal_id, "needs_attention", reason="test")
    def decide(i: int) -> str:
        """Half the operators decide paid, half failed: the first decision is the one acted on;
        the same decision again changes nothing, the other is refused."""
        try:
            return "done" if ops.resolve_withdrawal(withdrawal_id, ("paid", "failed")[i % 2], "checked")[
                "changed"] else "no_change"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(decide, range(6)))
    assert results.count("done") == 1
    w = ledger.store.get_wallet(wa)
    settled = stack_container.funding_repo.withdrawal(withdrawal_id)
    assert settled is not None and w.held == 0
    assert w.balance == (3_500 if settled.status == "paid" else 5_000)
    audit = [e.outcome for e in ops.audit_log.since("2026-01-01") if e.target in (transfer_id, withdrawal_id)]
    assert sorted(audit) == ["done"] * 2 + ["no_change"] * (5 + results.count("no_change"))
    report = reconcile(stack_container.ledger_store)
    assert report.ok, report.drift[:5]


def test_a_closed_accounts_money_does_not_leave(stack_container):
    """Re-review 26, R6: the owner-outflow condition refuses a closed account like a frozen one."""
    from chalicelib.domain.unit_of_work import AccountStatusChange
    ledger = stack_container.ledger
    a, _, wa = person(stack_container)
    _, _, wb = person(stack_container)
    fund(ledger, wa, 1_000)
    # Both items, as every change of status writes them (closing: services.closing).
    ledger.store.write(AccountStatusChange(a, "closed", from_="active"), now="2026-01-01T00:00:00Z")
    with pytest.raises(AccountFrozen):
        pay(ledger, a, wa, {"wallet_id": wb}, 100)
    assert ledger.store.get_wallet(wa).balance == 1_000 and ledger.store.get_wallet(wb).balance == 0
