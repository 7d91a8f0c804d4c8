"""Withdrawals under faults: the two defects a review found (issue 25), each replayed as the
scenario that caused it, on the simulator's world (real services, DynamoDB and Stripe models).

1. A frozen account was paid out after a lost Stripe answer, or after a crash between claiming
   the payout and asking Stripe for it.
2. Paid twice in a race: a frozen give-back acting on a stale read while another process had
   claimed and made the payout.
Plus the suspicion about a reversal repeated more than 24 h after the first attempt."""
from __future__ import annotations

import pytest

from chalicelib.domain.commands import WithdrawMoney
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.money import Money
from chalicelib.domain.results import WithdrawalView
from chalicelib.services.funding import CLEARING
from tests.simulation.faults import Crash, Plan
from tests.simulation.world import DAY, World

USER, WALLET = "usr_0", "wal_usr_0"


@pytest.fixture
def world() -> World:
    w = World(platform_payouts=False, failed_refund_lowers_total=False)
    assert w.ledger.credit_from_system(CLEARING, WALLET, Money(5000, "USD"), "tp_seed")
    return w


def withdraw(w: World, key: str = "a" * 32, amount: int = 1200, fault: Plan | None = None) -> WithdrawalView:
    w.injector.arm(fault)
    try:
        return w.funding.withdraw(USER, key, WithdrawMoney(WALLET, amount), otp="1").body
    finally:
        w.injector.arm(None)


def set_status(w: World, status: str) -> None:
    w.set_status(USER, status)


def balances(w: World) -> tuple[int, int, int]:
    x = w.book.wallets[WALLET]
    return x.balance, x.held, x.available


def settled(w: World) -> None:
    for event in list(w.stripe.events):
        w.stripe.events.remove(event)
        w.apply(event)
    assert w.reconcile().ok
    assert not w.stripe.violations, w.stripe.violations


def test_a_frozen_account_is_not_paid_out_after_the_transfer_answer_was_lost(world):
    """Hold, transfer claimed, Stripe made the transfer but the answer was lost; then the
    freeze; the client's retry finds the transfer, takes it back and gives the hold back."""
    with pytest.raises(ServiceUnavailable):
        withdraw(world, fault=Plan(at=0, kind="lost_answer", port="stripe"))
    assert len(world.stripe.transfers) == 1 and balances(world) == (5000, 1200, 3800)
    set_status(world, "frozen")
    assert withdraw(world)["status"] == "failed"
    assert world.stripe.payouts == {} and len(world.stripe.reversals) == 1
    assert balances(world) == (5000, 0, 5000)
    assert world.stripe.left_in_account(next(iter(world.book.withdrawals))) == 0
    settled(world)


def test_a_frozen_account_gets_no_payout_after_a_crash_between_the_claim_and_stripe(world):
    """The payout was claimed, then the process died before asking Stripe; then the freeze.
    The retry (and the resume job) must not ask Stripe for a payout it was never asked for:
    the withdrawal waits for a person, who gives it back."""
    with pytest.raises(Crash):
        withdraw(world, fault=Plan(at=1, kind="crash_before", port="stripe"))  # 0: transfer, 1: payout
    wid = next(iter(world.book.withdrawals))
    assert world.book.withdrawals[wid].payout_attempted_at is not None and world.stripe.payouts == {}
    set_status(world, "frozen")
    assert withdraw(world)["status"] == "needs_attention"
    world.clock.advance(3600)
    world.funding.resume_stuck_withdrawals()
    assert world.stripe.payouts == {}
    assert world.funding.resolve_attention(world.book.withdrawals[wid], paid=False,
                                           audit=world.audit("withdrawal resolve", wid))
    assert world.book.withdrawals[wid].status == "failed" and balances(world) == (5000, 0, 5000)
    assert world.stripe.left_in_account(wid) == 0
    settled(world)


def test_a_claim_made_before_the_freeze_is_followed_and_nothing_is_given_back(world):
    """Another process claimed the payout before the freeze and is about to call Stripe when
    the retry runs on the frozen account: the retry neither repeats the call nor gives the
    money back; the payout, once made, settles the hold."""
    real_create = world.stripe.create_payout
    retried: list[WithdrawalView] = []

    def freeze_and_retry_first(**kwargs):
        if not retried:
            set_status(world, "frozen")
            retried.append(withdraw(world))
        return real_create(**kwargs)

    world.stripe.create_payout = freeze_and_retry_first  # type: ignore[method-assign]
    body = withdraw(world)
    assert retried[0]["status"] == "needs_attention"
    assert len(world.stripe.payouts) == 1 and body["provider_reference"] in world.stripe.payouts
    world.stripe.settle_payout(body["provider_reference"], paid=True)
    settled(world)
    assert world.book.withdrawals[body["withdrawal_id"]].status == "paid"
    assert balances(world) == (3800, 0, 3800)


def test_a_give_back_on_a_stale_read_never_follows_a_payout_claimed_meanwhile(world):
    """Paid twice in a race: the frozen give-back read the withdrawal (no payout claimed);
    meanwhile the account was unfrozen and another process claimed and made the payout. The
    give-back must then do nothing: the bar refuses it, and the payout settles the hold."""
    real_send = world.funding._send_payout

    def crash(w):
        raise Crash("the process died after the hold, before any Stripe call was claimed")

    world.funding._send_payout = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        withdraw(world)
    world.funding._send_payout = real_send  # type: ignore[method-assign]
    wid = next(iter(world.book.withdrawals))
    set_status(world, "frozen")
    world.clock.advance(1)
    repo = world.funding.repo._target  # type: ignore[attr-defined]
    real_bar = repo.bar_payout

    def other_process_first(withdrawal_id):
        set_status(world, "active")
        world.funding.resume_stuck_withdrawals(older_than_seconds=0)  # claims and makes the payout
        return real_bar(withdrawal_id)

    repo.bar_payout = other_process_first
    world.funding.resume_stuck_withdrawals(older_than_seconds=0)  # the frozen give-back
    assert repo.bar_payout is other_process_first and world.book.withdrawals[wid].payout_barred_at is None
    [payout] = world.stripe.payouts
    assert world.book.transfers[wid].status == "pending" and world.stripe.reversals == {}
    world.stripe.settle_payout(payout, paid=True)
    settled(world)
    assert world.book.withdrawals[wid].status == "paid" and balances(world) == (3800, 0, 3800)


def test_a_reversal_repeated_more_than_a_day_later_finds_the_first_one(world):
    """The payout failed; the reversal was made but its answer lost; the event is redelivered
    two days later, when Stripe has forgotten the key: a new reversal would be refused (nothing
    left to reverse), so the first one is looked up and the hold goes back."""
    body = withdraw(world)
    payout = body["provider_reference"]
    world.stripe.settle_payout(payout, paid=False)
    [event] = world.stripe.events
    world.stripe.events.clear()
    real_reverse = world.stripe.reverse_transfer

    def lost(*args, **kwargs):
        real_reverse(*args, **kwargs)
        raise ServiceUnavailable("answer lost")

    world.stripe.reverse_transfer = lost  # type: ignore[method-assign]
    with pytest.raises(ServiceUnavailable):
        world.apply(event)
    world.stripe.reverse_transfer = real_reverse  # type: ignore[method-assign]
    world.clock.advance(2 * DAY)
    world.apply(event)
    assert len(world.stripe.reversals) == 1
    assert world.book.withdrawals[body["withdrawal_id"]].status == "failed"
    assert balances(world) == (5000, 0, 5000)
    settled(world)


def test_a_give_back_interrupted_after_the_bar_is_finished_after_an_unfreeze(world):
    """Review: the payout was barred, then the reversal failed (a crash, or Stripe down); an
    operator unfroze the account. A bar is never lifted, so the retry and the resume job finish
    the give-back rather than leave the money held in the wallet and in the connected account."""
    real_send, real_reverse = world.funding._send_payout, world.stripe.reverse_transfer

    def transfer_then_die(w):
        repo = world.funding.repo._target  # type: ignore[attr-defined]
        real_mark = repo.mark_attempt

        def mark(withdrawal_id, user_id, call, when, first=None):
            if call == "payout":
                raise Crash("the process died before claiming the payout")
            return real_mark(withdrawal_id, user_id, call, when, first)
        repo.mark_attempt = mark
        try:
            real_send(w)
        finally:
            repo.mark_attempt = real_mark

    world.funding._send_payout = transfer_then_die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        withdraw(world)
    world.funding._send_payout = real_send  # type: ignore[method-assign]
    wid = next(iter(world.book.withdrawals))
    set_status(world, "frozen")
    world.clock.advance(10)

    def down(*args, **kwargs):
        raise ServiceUnavailable("Stripe is down")

    world.stripe.reverse_transfer = down  # type: ignore[method-assign]
    world.funding.resume_stuck_withdrawals(older_than_seconds=0)
    assert world.book.withdrawals[wid].payout_barred_at is not None
    world.stripe.reverse_transfer = real_reverse  # type: ignore[method-assign]
    set_status(world, "active")
    world.clock.advance(DAY)
    world.funding.resume_stuck_withdrawals(older_than_seconds=0)
    assert world.book.withdrawals[wid].status == "failed" and balances(world) == (5000, 0, 5000)
    assert world.stripe.left_in_account(wid) == 0 and world.stripe.payouts == {}
    settled(world)
