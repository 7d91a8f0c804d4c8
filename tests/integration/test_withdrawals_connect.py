"""Withdrawals in Connect mode on DynamoDB Local, against a Stripe stand-in that behaves like
Stripe where it matters here: it forgets idempotency keys after 24 h, and an answer can be lost
after the money moved. The rule under test: a withdrawal is never paid twice, and a failed
payout's money is never both back in the wallet and in the connected account."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from chalicelib.adapters.dynamodb.funding import DynamoFunding
from chalicelib.domain.commands import WithdrawMoney
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.ids import new_id
from chalicelib.domain.money import Money
from chalicelib.services.funding import Funding, PayoutNotYetRecorded
from tests.fakes import Clock, UnusedGateway

DAY = 24 * 3600


@dataclass
class Call:
    kind: str
    key: str
    id: str


@dataclass
class FakeConnect(UnusedGateway):
    """Stripe Connect, reduced to transfers, payouts and reversals."""

    clock: Clock
    platform_payouts: bool = False
    calls: list[Call] = field(default_factory=list)
    memory: dict[str, tuple[float, str]] = field(default_factory=dict)  # idempotency key -> (when, id)
    transfers: dict[str, dict] = field(default_factory=dict)
    payouts: dict[str, dict] = field(default_factory=dict)
    reversals: list[str] = field(default_factory=list)
    lose_next_answer: bool = False  # do it, then time out
    down: bool = False  # time out without doing anything
    broken: set[str] = field(default_factory=set)  # withdrawal ids whose calls raise a bug

    def _idempotent(self, kind: str, key: str, make) -> str:
        if self.down:
            raise ServiceUnavailable()
        seen = self.memory.get(key)
        if seen and self.clock() - seen[0] < DAY:
            return seen[1]
        new = make()
        self.memory[key] = (self.clock(), new)
        self.calls.append(Call(kind, key, new))
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise ServiceUnavailable()
        return new

    def transfer_to_account(self, *, amount, currency, account_id, withdrawal_id, metadata):
        if withdrawal_id in self.broken:
            raise RuntimeError("a bug")

        def make():
            tid = f"tr_{uuid.uuid4().hex[:10]}"
            self.transfers[tid] = {"group": withdrawal_id, "amount": amount, "metadata": metadata}
            return tid
        return self._idempotent("transfer", f"{withdrawal_id}-transfer", make)

    def find_transfer(self, withdrawal_id):
        if self.down:
            raise ServiceUnavailable()
        return next((t for t, v in self.transfers.items() if v["group"] == withdrawal_id), None)

    def create_payout(self, *, amount, currency, account_id, withdrawal_id, metadata):
        def make():
            pid = f"po_{uuid.uuid4().hex[:10]}"
            self.payouts[pid] = {"amount": amount, "currency": currency.lower(), "metadata": metadata}
            return pid
        return self._idempotent("payout", f"{withdrawal_id}-payout", make)

    def find_payout(self, account_id, withdrawal_id):
        if self.down:
            raise ServiceUnavailable()
        return next((p for p, v in self.payouts.items() if v["metadata"]["withdrawal_id"] == withdrawal_id), None)

    def reverse_transfer(self, transfer_id, amount, withdrawal_id):
        def make():
            self.reversals.append(transfer_id)
            return f"trr_{len(self.reversals)}"
        return self._idempotent("reversal", f"{withdrawal_id}-reversal", make)

    def find_reversal(self, transfer_id, withdrawal_id):
        if self.down:
            raise ServiceUnavailable()
        return next((c.id for c in self.calls if c.kind == "reversal" and c.key == f"{withdrawal_id}-reversal"), None)

    def event(self, payout_id: str, **override) -> dict:
        return {"id": payout_id, "object": "payout", **self.payouts[payout_id], **override}

    def count(self, kind: str) -> int:
        return sum(c.kind == kind for c in self.calls)


class AlwaysOk:
    def require(self, user_id, otp, **_where):
        return None


@pytest.fixture
def setup(stack_container, stack_settings):
    from tests.integration.test_ledger_dynamodb import person

    clock = Clock()
    gateway = FakeConnect(clock)
    repo = DynamoFunding()
    ledger = stack_container.ledger
    f = Funding(repo=repo, gateway=gateway, ledger=ledger, mfa=AlwaysOk(), cipher=stack_container.cipher, now=clock)
    user_id, _, wallet = person(stack_container)
    repo.set_payout_account(user_id, "acct_test", "enabled")
    ledger.credit_from_system("stripe_clearing", wallet, Money(10_000, "USD"), new_id("tp"))
    return f, gateway, clock, user_id, wallet


def withdraw(f, user_id, wallet, amount=600, key=None):
    return f.withdraw(user_id, key or uuid.uuid4().hex, WithdrawMoney(wallet, amount), otp="x")


def balances(f, wallet):
    w = f.ledger.store.get_wallet(wallet)
    return w.balance, w.held, w.available


def test_a_lost_transfer_answer_is_looked_up_and_never_sent_again(setup):
    f, gateway, clock, user_id, wallet = setup
    gateway.lose_next_answer = True  # the transfer happens, its answer is lost
    with pytest.raises(ServiceUnavailable):
        withdraw(f, user_id, wallet)
    # Days pass: Stripe has forgotten the idempotency key, so a blind retry would pay again.
    clock.advance(2 * DAY)
    f.resume_stuck_withdrawals()
    assert gateway.count("transfer") == 1
    (w,) = [r for r in f.repo.stuck_withdrawals("9999") if r.user_id == user_id] or [None]
    assert w is None  # it has its payout now
    withdrawal = next(iter(gateway.payouts.values()))["metadata"]["withdrawal_id"]
    record = f.repo.withdrawal(withdrawal)
    assert record.stripe_transfer_id == next(iter(gateway.transfers)) and record.payout_id
    assert gateway.count("payout") == 1


def test_the_transfer_id_is_recorded_as_soon_as_stripe_returns_it(setup):
    f, gateway, clock, user_id, wallet = setup
    gateway.broken_payouts = True
    original = gateway.create_payout

    def payout_times_out(**kw):
        raise ServiceUnavailable()
    gateway.create_payout = payout_times_out
    with pytest.raises(ServiceUnavailable):
        withdraw(f, user_id, wallet)
    (tid,) = gateway.transfers
    wid = gateway.transfers[tid]["group"]
    assert f.repo.withdrawal(wid).stripe_transfer_id == tid
    gateway.create_payout = original
    clock.advance(DAY + 3600)  # past the key's memory: the payout was never attempted with success...
    f.resume_stuck_withdrawals()
    # ...and the transfer is never repeated; the payout's outcome is unknown past 23 h: a person.
    assert gateway.count("transfer") == 1 and gateway.count("payout") == 0
    record = f.repo.withdrawal(wid)
    assert record.status == "needs_attention" and "payout" in record.attention_reason
    assert balances(f, wallet) == (10_000, 600, 9_400)  # still held: nothing lost, nothing paid


def test_an_unknown_outcome_past_23_hours_waits_for_a_person(setup):
    f, gateway, clock, user_id, wallet = setup
    gateway.down = True
    key = uuid.uuid4().hex
    with pytest.raises(ServiceUnavailable):
        withdraw(f, user_id, wallet, key=key)
    gateway.down = False
    clock.advance(23 * 3600 + 1)
    f.resume_stuck_withdrawals()
    assert gateway.calls == []  # nothing was ever sent, and nothing is sent blindly now
    again = withdraw(f, user_id, wallet, key=key)  # the client's retry replays the state
    assert again.body["status"] == "needs_attention" and gateway.calls == []
    assert balances(f, wallet) == (10_000, 600, 9_400)
    f.resume_stuck_withdrawals()  # not picked again
    assert gateway.calls == []


def test_within_the_window_a_resume_sends_once(setup):
    f, gateway, clock, user_id, wallet = setup
    gateway.down = True
    with pytest.raises(ServiceUnavailable):
        withdraw(f, user_id, wallet)
    gateway.down = False
    clock.advance(3600)
    f.resume_stuck_withdrawals()
    f.resume_stuck_withdrawals()
    assert (gateway.count("transfer"), gateway.count("payout")) == (1, 1)


def test_a_failed_payout_reverses_the_transfer_before_the_hold_is_voided(setup):
    f, gateway, _clock, user_id, wallet = setup
    out = withdraw(f, user_id, wallet)
    payout_id = out.body["provider_reference"]
    gateway.down = True  # the reversal cannot be made yet: the hold must stay
    with pytest.raises(ServiceUnavailable):
        f.apply("payout.failed", gateway.event(payout_id, status="failed"))
    assert balances(f, wallet) == (10_000, 600, 9_400)
    gateway.down = False
    assert f.apply("payout.failed", gateway.event(payout_id, status="failed")) == "voided"
    assert f.apply("payout.failed", gateway.event(payout_id, status="failed")) == "already settled"
    assert gateway.reversals == list(gateway.transfers) and gateway.count("reversal") == 1
    assert balances(f, wallet) == (10_000, 0, 10_000)
    assert f.repo.withdrawal(out.body["withdrawal_id"]).status == "failed"


def test_a_paid_payout_that_fails_later_is_reversed_and_credited_once(setup):
    f, gateway, _clock, user_id, wallet = setup
    out = withdraw(f, user_id, wallet)
    payout_id = out.body["provider_reference"]
    assert f.apply("payout.paid", gateway.event(payout_id, status="paid")) == "paid"
    assert balances(f, wallet) == (9_400, 0, 9_400)
    assert f.apply("payout.failed", gateway.event(payout_id, status="failed")) == "reversed"
    assert f.apply("payout.failed", gateway.event(payout_id, status="failed")) == "already settled"
    assert balances(f, wallet) == (10_000, 0, 10_000) and gateway.count("reversal") == 1


def test_only_the_recorded_payout_id_with_its_amount_settles(setup):
    f, gateway, _clock, user_id, wallet = setup
    out = withdraw(f, user_id, wallet)
    wid, payout_id = out.body["withdrawal_id"], out.body["provider_reference"]
    forged = {"id": "po_someone_else", "amount": 600, "currency": "usd", "metadata": {"withdrawal_id": wid}}
    assert f.apply("payout.paid", forged) == "unknown payout"
    assert f.apply("payout.failed", forged) == "unknown payout"
    assert f.apply("payout.paid", gateway.event(payout_id, amount=1)) == "mismatch"
    assert f.apply("payout.paid", gateway.event(payout_id, currency="eur")) == "mismatch"
    assert balances(f, wallet) == (10_000, 600, 9_400) and f.repo.withdrawal(wid).status == "pending"
    assert f.apply("payout.paid", gateway.event(payout_id)) == "paid"


def test_a_payout_event_before_its_id_is_recorded_is_redelivered(setup):
    f, gateway, clock, user_id, wallet = setup
    gateway.lose_next_answer = False
    original = f.repo.set_payout
    f.repo.set_payout = lambda *a: (_ for _ in ()).throw(ServiceUnavailable())  # crash before the write
    with pytest.raises(ServiceUnavailable):
        withdraw(f, user_id, wallet)
    f.repo.set_payout = original
    (payout_id,) = gateway.payouts
    with pytest.raises(PayoutNotYetRecorded):
        f.apply("payout.paid", gateway.event(payout_id))
    clock.advance(1000)
    f.resume_stuck_withdrawals()  # finds the payout at Stripe, records it; no second payout
    assert gateway.count("payout") == 1
    assert f.apply("payout.paid", gateway.event(payout_id)) == "paid"


def test_the_hold_and_the_withdrawal_status_change_together(setup):
    f, gateway, _clock, user_id, wallet = setup
    out = withdraw(f, user_id, wallet)
    wid, payout_id = out.body["withdrawal_id"], out.body["provider_reference"]
    # Someone (a crash, a person) moved the status: the hold must not move without it.
    from chalicelib.adapters.dynamodb.models import WithdrawalRecord

    WithdrawalRecord(withdrawal_id=wid).update(actions=[WithdrawalRecord.status.set("failed")])
    assert f.apply("payout.paid", gateway.event(payout_id)) == "already settled"
    assert f.ledger.store.get_transfer(wid).status == "pending"
    WithdrawalRecord(withdrawal_id=wid).update(actions=[WithdrawalRecord.status.set("pending")])
    assert f.apply("payout.paid", gateway.event(payout_id)) == "paid"
    assert f.ledger.store.get_transfer(wid).status == "posted" and f.repo.withdrawal(wid).status == "paid"


def test_one_bad_withdrawal_never_stops_the_others(setup, stack_container):
    from tests.integration.test_ledger_dynamodb import person

    f, gateway, clock, user_id, wallet = setup
    other, _, other_wallet = person(stack_container)
    f.repo.set_payout_account(other, "acct_other", "enabled")
    f.ledger.credit_from_system("stripe_clearing", other_wallet, Money(1000, "USD"), new_id("tp"))
    gateway.down = True
    for u, w in ((user_id, wallet), (other, other_wallet)):
        with pytest.raises(ServiceUnavailable):
            withdraw(f, u, w, amount=100)
    gateway.down = False
    stuck = [w.withdrawal_id for w in f.repo.stuck_withdrawals("9999") if w.user_id in (user_id, other)]
    gateway.broken = {stuck[0]}
    clock.advance(1000)
    done = f.resume_stuck_withdrawals()
    assert done["failed"] >= 1 and done["resumed"] >= 1
    assert f.repo.withdrawal(stuck[1]).payout_id and not f.repo.withdrawal(stuck[0]).payout_id


def test_a_payout_refused_after_the_transfer_takes_the_transfer_back_then_fails(setup):
    from chalicelib.adapters.stripe_gateway import PaymentProviderError

    f, gateway, _clock, user_id, wallet = setup

    def refused(**kw):
        raise PaymentProviderError()  # e.g. the account has no bank account yet
    gateway.create_payout = refused
    gateway.down_reversals = True
    original = gateway.reverse_transfer

    def reversal_times_out(*a):
        raise ServiceUnavailable()
    gateway.reverse_transfer = reversal_times_out
    key = uuid.uuid4().hex
    with pytest.raises(ServiceUnavailable):
        withdraw(f, user_id, wallet, key=key)
    # The money sits in the connected account until it is taken back: the hold stays.
    assert balances(f, wallet) == (10_000, 600, 9_400)
    gateway.reverse_transfer = original
    out = withdraw(f, user_id, wallet, key=key)  # the client's retry
    assert out.body["status"] == "failed" and gateway.count("reversal") == 1
    assert balances(f, wallet) == (10_000, 0, 10_000)


def test_a_failed_look_up_is_never_taken_for_a_refusal(setup):
    f, gateway, clock, user_id, wallet = setup
    gateway.lose_next_answer = True
    with pytest.raises(ServiceUnavailable):
        withdraw(f, user_id, wallet)

    def lookup_fails(withdrawal_id):
        raise ServiceUnavailable()  # what the gateway makes of any error of a look-up
    gateway.find_transfer = lookup_fails
    clock.advance(1000)
    f.resume_stuck_withdrawals()
    assert balances(f, wallet) == (10_000, 600, 9_400) and gateway.count("transfer") == 1


def test_a_transfer_refused_outright_gives_the_hold_back(setup):
    from chalicelib.adapters.stripe_gateway import PaymentProviderError

    f, gateway, _clock, user_id, wallet = setup

    def refused(**kw):
        raise PaymentProviderError()
    gateway.transfer_to_account = refused
    out = withdraw(f, user_id, wallet)
    assert out.body["status"] == "failed" and balances(f, wallet) == (10_000, 0, 10_000)
    assert f.ledger.store.get_transfer(out.body["withdrawal_id"]).status == "voided"


def test_a_freeze_orders_every_claim_of_a_stripe_call_on_dynamodb(setup, stack_container):
    """The adapter's claim is one transaction with the account's status: after a committed
    freeze nothing can be claimed, a repeat only of the attempt recorded, and once the payout
    is barred (a frozen give-back) nothing at all, even after an unfreeze."""
    from chalicelib.domain.audit import AuditEntry
    from chalicelib.domain.unit_of_work import AccountStatusChange, Audited

    f, _gateway, clock, user_id, wallet = setup

    def status(new, old):
        entry = AuditEntry(new_id("aud"), "2026-01-01T00:00:00.000Z", "test", new, user_id, "done", "ct")
        f.ledger.store.write(Audited(AccountStatusChange(user_id, new, from_=old), entry), now=entry.at)

    f._send_payout = lambda w: None  # the process died right after the hold
    wid = withdraw(f, user_id, wallet).body["withdrawal_id"]
    del f._send_payout
    repo = f.repo
    status("frozen", "active")
    assert not repo.mark_attempt(wid, user_id, "transfer", clock())
    status("active", "frozen")
    assert repo.mark_attempt(wid, user_id, "transfer", 100.0)
    assert not repo.mark_attempt(wid, user_id, "transfer", 200.0)  # a first attempt is claimed once
    assert not repo.mark_attempt(wid, user_id, "transfer", 200.0, first=150.0)  # not the recorded one
    assert repo.mark_attempt(wid, user_id, "transfer", 200.0, first=100.0)  # a repeat of it
    assert repo.withdrawal(wid).transfer_attempted_at == 100.0
    assert not repo.bar_payout(wid)  # a transfer was claimed and its id is unknown
    repo.set_stripe_transfer(wid, "tr_x")
    assert repo.bar_payout(wid)
    assert not repo.mark_attempt(wid, user_id, "payout", 300.0)  # barred, though not frozen
    assert repo.withdrawal(wid).payout_attempted_at is None
