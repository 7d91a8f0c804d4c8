"""The funding services on in-memory fakes of their ports: no HTTP, no database, no sleeping.
Each scenario ends with the ledger's own reconciliation (balances sum to zero per currency,
legs match transfers, holds match pending debits)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace

import pytest

from chalicelib.adapters.crypto import BlindIndex
from chalicelib.domain.commands import AddMoney, SendTransfer, WithdrawMoney
from chalicelib.domain.errors import NotFound
from chalicelib.domain.funding import FundingProfile, Intent, PaymentMethod
from chalicelib.domain.ledger import IdempotencyKeyReused
from chalicelib.services.funding import Applied, CreditNotYetApplied, Funding, PayoutNotYetRecorded
from chalicelib.services.ledger import Ledger, LedgerPolicy
from chalicelib.services.reconcile import reconcile
from tests.fakes import Clock, FakeUsers, PlainCipher, UnusedGateway
from tests.fakes_money import FakeBook, FakeFundingRepo, FakeLedgerStore

KEY = "A" * 43 + "="


@dataclass
class FakeStripe(UnusedGateway):
    platform_payouts: bool = False
    intents: list[str] = field(default_factory=list)
    transfers: list[str] = field(default_factory=list)
    payouts: dict[str, dict] = field(default_factory=dict)
    reversals: list[str] = field(default_factory=list)

    def charge(self, *, amount, currency, customer_id, stripe_pm_id, metadata, key):
        self.intents.append(key)
        return Intent(f"pi_{key}", "processing", None)

    def transfer_to_account(self, *, amount, currency, account_id, withdrawal_id, metadata):
        self.transfers.append(withdrawal_id)
        return f"tr_{withdrawal_id}"

    def create_payout(self, *, amount, currency, account_id, withdrawal_id, metadata):
        self.payouts[f"po_{withdrawal_id}"] = {"id": f"po_{withdrawal_id}", "amount": amount,
                                                "currency": currency.lower(), "metadata": metadata}
        return f"po_{withdrawal_id}"

    def reverse_transfer(self, transfer_id, amount, withdrawal_id):
        self.reversals.append(transfer_id)
        return f"trr_{withdrawal_id}"

    def refunds_of(self, charge_id):
        return None  # the charges of these scenarios exist only in their events

    def find_reversal(self, transfer_id, withdrawal_id):
        return f"trr_{withdrawal_id}" if transfer_id in self.reversals else None


class Yes:
    def require(self, user_id, otp, **_where):
        return None


@dataclass
class World:
    book: FakeBook
    store: FakeLedgerStore
    stripe: FakeStripe
    funding: Funding
    clock: Clock
    user: str = "usr_a"
    wallet: str = "wal_a"

    def ok(self) -> None:
        report = reconcile(self.store)
        assert report.ok, report.drift

    def balances(self) -> tuple[int, int, int]:
        w = self.book.wallets[self.wallet]
        return w.balance, w.held, w.available

    def topped_up(self, amount: int) -> dict:
        out = self.funding.top_up(self.user, uuid.uuid4().hex, AddMoney(self.wallet, amount, "pmt_a"))
        intent = {"id": out.body["provider_reference"], "amount": amount, "amount_received": amount,
                  "currency": "usd", "metadata": {"topup_id": out.body["topup_id"]}}
        assert self.funding.apply("payment_intent.succeeded", intent) == Applied.CREDITED
        return intent


@pytest.fixture
def world() -> World:
    book, clock = FakeBook(), Clock()
    store, stripe, cipher = FakeLedgerStore(book), FakeStripe(), PlainCipher()
    ledger = Ledger(store=store, users=FakeUsers(), blind_index=BlindIndex(KEY), cipher=cipher,
                    policy=LedgerPolicy(("USD", "EUR"), "USD"), now=clock)
    funding = Funding(repo=FakeFundingRepo(book), gateway=stripe, ledger=ledger, mfa=Yes(), cipher=cipher, now=clock)
    book.wallet("wal_a", "usr_a")
    book.profiles["usr_a"] = FundingProfile("usr_a", "cus_a", "acct_a", "enabled")
    book.payment_methods["pmt_a"] = PaymentMethod("pmt_a", "usr_a", "pm_card", "card", "ct", "t")
    return World(book, store, stripe, funding, clock)


def test_a_top_up_is_credited_once_by_its_event_and_replays_its_first_answer(world):
    command = AddMoney(world.wallet, 2500, "pmt_a")
    first = world.funding.top_up(world.user, "k1", command)
    assert (first.body["status"], first.replayed) == ("pending", False)
    again = world.funding.top_up(world.user, "k1", command)
    assert again.replayed and again.body == first.body and len(world.stripe.intents) == 1
    with pytest.raises(IdempotencyKeyReused):
        world.funding.top_up(world.user, "k1", replace(command, amount=2600))
    assert world.balances() == (0, 0, 0)  # nothing until Stripe says so
    intent = {"id": first.body["provider_reference"], "amount": 2500, "amount_received": 2500, "currency": "usd",
              "metadata": {"topup_id": first.body["topup_id"]}}
    assert world.funding.apply("payment_intent.succeeded", intent) == Applied.CREDITED
    assert world.funding.apply("payment_intent.succeeded", intent) == Applied.ALREADY_CREDITED
    assert world.funding.apply("payment_intent.payment_failed", intent) == Applied.KEPT  # late, out of order
    assert world.balances() == (2500, 0, 2500)
    world.ok()


def test_an_event_with_another_amount_credits_nothing(world):
    out = world.funding.top_up(world.user, "k", AddMoney(world.wallet, 900, "pmt_a"))
    intent = {"id": out.body["provider_reference"], "amount": 9000, "amount_received": 9000, "currency": "usd",
              "metadata": {"topup_id": out.body["topup_id"]}}
    assert world.funding.apply("payment_intent.succeeded", intent) == Applied.MISMATCH
    assert world.balances() == (0, 0, 0)


def test_refunds_are_taken_by_their_running_total_once(world):
    intent = world.topped_up(3000)
    charge = {"id": "ch_1", "payment_intent": intent["id"], "currency": "usd"}
    assert world.funding.apply("charge.refunded", {**charge, "amount_refunded": 1000}) == Applied.APPLIED
    assert world.funding.apply("charge.refunded", {**charge, "amount_refunded": 1000}) == Applied.ALREADY_APPLIED
    assert world.funding.apply("charge.refunded", {**charge, "amount_refunded": 1500}) == Applied.APPLIED
    assert world.balances() == (1500, 0, 1500)
    world.ok()


def test_a_refund_before_its_credit_waits_for_it(world):
    out = world.funding.top_up(world.user, "k", AddMoney(world.wallet, 700, "pmt_a"))
    with pytest.raises(CreditNotYetApplied):
        world.funding.apply("charge.refunded", {"id": "ch_2", "payment_intent": out.body["provider_reference"],
                                                "amount_refunded": 300, "currency": "usd"})
    assert world.balances() == (0, 0, 0)


def test_a_dispute_holds_then_releases_or_takes_the_money(world):
    intent = world.topped_up(2000)
    won = {"id": "dp_1", "amount": 500, "payment_intent": intent["id"], "currency": "usd"}
    assert world.funding.apply("charge.dispute.created", won) == Applied.APPLIED
    assert world.funding.apply("charge.dispute.created", won) == Applied.ALREADY_APPLIED
    assert world.balances() == (2000, 500, 1500)
    assert world.funding.apply("charge.dispute.closed", {**won, "status": "won"}) == Applied.RELEASED
    assert world.balances() == (2000, 0, 2000)
    other = world.topped_up(1000)  # a charge is disputed at most once: another top-up
    lost = {"id": "dp_2", "amount": 400, "payment_intent": other["id"], "currency": "usd"}
    assert world.funding.apply("charge.dispute.created", lost) == Applied.APPLIED
    assert world.funding.apply("charge.dispute.closed", {**lost, "status": "lost"}) == Applied.POSTED
    assert world.funding.apply("charge.dispute.closed", {**lost, "status": "lost"}) == Applied.ALREADY
    assert world.balances() == (2600, 0, 2600)
    world.ok()


def test_a_failed_refund_comes_back_once_and_never_more_than_was_taken(world):
    intent = world.topped_up(2000)
    world.funding.apply("charge.refunded", {"id": "ch_3", "payment_intent": intent["id"], "amount_refunded": 800,
                                            "currency": "usd"})
    refund = {"id": "re_1", "amount": 800, "payment_intent": intent["id"], "currency": "usd", "status": "failed"}
    assert world.funding.apply("charge.refund.updated", refund) == Applied.REFUND_RETURNED
    assert world.funding.apply("charge.refund.updated", refund) == Applied.ALREADY_APPLIED
    assert world.balances() == (2000, 0, 2000)
    with pytest.raises(CreditNotYetApplied):  # more than refunds ever took: waits, gives nothing
        world.funding.apply("charge.refund.updated", {**refund, "id": "re_2", "amount": 1})
    assert world.funding.apply("charge.refund.updated", {**refund, "status": "succeeded"}) == Applied.IGNORED
    world.ok()


def test_a_refund_that_failed_on_a_spent_top_up_waits_for_a_person(world):
    intent = world.topped_up(1000)
    world.book.wallet("wal_b", "usr_b")
    world.funding.ledger.transfer(world.user, "spend", SendTransfer.of(
        {"from_wallet_id": world.wallet, "to": {"wallet_id": "wal_b"},
         "amount": 1000, "currency": "USD"}))
    charge = {"id": "ch_4", "payment_intent": intent["id"], "amount_refunded": 1000, "currency": "usd"}
    assert world.funding.apply("charge.refunded", charge) == Applied.SHORTFALL  # spent: never negative
    refund = {"id": "re_3", "amount": 1000, "payment_intent": intent["id"], "currency": "usd", "status": "failed"}
    assert world.funding.apply("charge.refund.updated", refund) == Applied.SHORTFALL
    assert world.balances() == (0, 0, 0)
    world.ok()


def withdraw(world: World, amount: int = 600, key: str | None = None):
    return world.funding.withdraw(world.user, key or uuid.uuid4().hex, WithdrawMoney(world.wallet, amount),
                                  otp="123456")


def test_a_withdrawal_is_held_paid_once_and_replays_its_first_answer(world):
    world.topped_up(2000)
    out = withdraw(world, key="w1")
    assert out.body["status"] == "pending" and world.balances() == (2000, 600, 1400)
    payout = world.stripe.payouts[out.body["provider_reference"]]
    assert world.funding.apply("payout.paid", payout) == Applied.PAID
    assert world.funding.apply("payout.paid", payout) == Applied.ALREADY_SETTLED
    assert world.balances() == (1400, 0, 1400)
    again = withdraw(world, key="w1")
    assert again.replayed and again.body == out.body  # the first complete answer, as it was
    assert (world.stripe.transfers, len(world.stripe.payouts)) == ([out.body["withdrawal_id"]], 1)
    world.ok()


def test_payout_events_in_any_order_settle_once(world):
    world.topped_up(2000)
    out = withdraw(world)
    payout = world.stripe.payouts[out.body["provider_reference"]]
    assert world.funding.apply("payout.failed", payout) == Applied.VOIDED  # reversed first, then voided
    assert world.funding.apply("payout.paid", payout) == Applied.ALREADY_SETTLED  # too late to matter
    assert world.stripe.reversals == [f"tr_{out.body['withdrawal_id']}"]
    assert world.balances() == (2000, 0, 2000)
    second = withdraw(world, 500)
    p2 = world.stripe.payouts[second.body["provider_reference"]]
    assert world.funding.apply("payout.paid", p2) == Applied.PAID
    assert world.funding.apply("payout.failed", p2) == Applied.REVERSED  # the bank sent it back
    assert world.funding.apply("payout.failed", p2) == Applied.ALREADY_SETTLED
    assert world.balances() == (2000, 0, 2000) and len(world.stripe.reversals) == 2
    world.ok()


def test_a_payout_event_settles_only_its_recorded_withdrawal(world):
    world.topped_up(2000)
    out = withdraw(world)
    wid = out.body["withdrawal_id"]
    payout = world.stripe.payouts[out.body["provider_reference"]]
    assert world.funding.apply("payout.paid", {**payout, "id": "po_other"}) == Applied.UNKNOWN_PAYOUT
    assert world.funding.apply("payout.paid", {**payout, "amount": 1}) == Applied.MISMATCH
    world.book.withdrawals[wid] = world.book.withdrawals[wid].__class__(
        **{**world.book.withdrawals[wid].__dict__, "payout_id": None})  # as if our write had not landed yet
    with pytest.raises(PayoutNotYetRecorded):
        world.funding.apply("payout.paid", payout)
    assert world.balances() == (2000, 600, 1400)


def test_someone_elses_withdrawal_or_top_up_is_not_found(world):
    world.topped_up(100)
    out = withdraw(world, 50)
    with pytest.raises(NotFound):
        world.funding.get_withdrawal("usr_x", out.body["withdrawal_id"])
    with pytest.raises(NotFound):
        world.funding.get_topup("usr_x", next(iter(world.book.topups)))


def test_a_frozen_account_gets_no_payout_stripe_was_not_yet_asked_for(world, monkeypatch):
    """The first call died after the hold (before Stripe, or between the Connect transfer and
    the payout); the account is frozen; the retry of the key makes no payout and gives the
    money back, taking the transfer back from the connected account first."""
    world.topped_up(2000)
    with monkeypatch.context() as m:
        m.setattr(world.funding, "_send_payout", lambda w: None)  # the process died here
        assert withdraw(world, key="before-stripe").body["status"] == "pending"
    repo = world.funding.repo
    real_mark = repo.mark_attempt

    def crash_before_payout(withdrawal_id, user_id, call, when, first=None):
        if call == "payout":
            raise RuntimeError("the process died before asking for the payout")
        return real_mark(withdrawal_id, user_id, call, when, first)

    with monkeypatch.context() as m, pytest.raises(RuntimeError):
        m.setattr(repo, "mark_attempt", crash_before_payout)
        withdraw(world, 300, key="after-transfer")
    assert world.balances() == (2000, 900, 1100) and len(world.stripe.transfers) == 1
    world.book.profiles["usr_a"] = FundingProfile("usr_a", "cus_a", "acct_a", "enabled", status="frozen")
    assert withdraw(world, key="before-stripe").body["status"] == "failed"
    assert withdraw(world, 300, key="after-transfer").body["status"] == "failed"
    assert world.balances() == (2000, 0, 2000)
    assert world.stripe.payouts == {} and world.stripe.reversals == [f"tr_{world.stripe.transfers[0]}"]
    world.ok()


def test_a_closed_accounts_money_does_not_leave(world):
    """Re-review 26, R6: like a frozen one, a closed account sends nothing and gets no payout
    (its money leaves only through operators)."""
    from chalicelib.domain.errors import AccountFrozen
    world.topped_up(2000)
    world.book.profiles["usr_a"] = FundingProfile("usr_a", "cus_a", "acct_a", "enabled", status="closed")
    with pytest.raises(AccountFrozen):
        withdraw(world, key="closed")
    world.book.wallet("wal_b", "usr_b")
    with pytest.raises(AccountFrozen):
        world.funding.ledger.transfer(world.user, "gone", SendTransfer.of({"from_wallet_id": world.wallet,
                                                                           "to": {"wallet_id": "wal_b"}, "amount": 100,
                                                                           "currency": "USD"}))
    assert world.balances() == (2000, 0, 2000) and world.stripe.payouts == {}
    world.ok()


def test_a_payout_held_before_the_closing_is_given_back_not_paid(world, monkeypatch):
    world.topped_up(2000)
    with monkeypatch.context() as m:
        m.setattr(world.funding, "_send_payout", lambda w: None)  # the process died after the hold
        assert withdraw(world, key="held").body["status"] == "pending"
    world.book.profiles["usr_a"] = FundingProfile("usr_a", "cus_a", "acct_a", "enabled", status="closed")
    assert withdraw(world, key="held").body["status"] == "failed"
    assert world.balances() == (2000, 0, 2000) and world.stripe.payouts == {}
    world.ok()
