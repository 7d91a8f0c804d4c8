"""Every defect the simulator found, kept as the shrunk run that showed it: plain steps of the
state machine, replayed without Hypothesis so they stay readable and run in milliseconds."""
from __future__ import annotations

import logging

from tests.simulation.faults import Plan
from tests.simulation.machine import WalletSimulation


def test_a_dispute_of_a_top_up_whose_create_answer_was_lost_waits_for_its_intent():
    """Long profile: the create call's answer was lost (the intent exists at Stripe, the top-up
    does not know it), the charge was disputed and the dispute lost before the intent's success
    event arrived. The dispute's events were dropped as an unknown top-up, so the money Stripe
    took back stayed in the wallet. They now wait for the intent to be recorded."""
    logging.disable(logging.CRITICAL)
    try:
        s = WalletSimulation()
        s.start(platform=False, lowers=False)
        s.top_up(amount=1, fault=None, nested="retry", who=0)
        s.card_settles(i=0, outcome="succeeded")
        s.top_up(amount=1, fault=Plan(at=5, kind="unavailable", port="dynamodb"), nested="retry", who=0)
        s.card_settles(i=1, outcome="succeeded")
        s.stripe_dashboard(amount=1, i=1, what="dispute")
        s.webhook_arrives(duplicate=False, fault=None, i=2)  # the dispute, before the intent's success
        s.stripe_dashboard(amount=1, i=0, what="lose")
        s.teardown()  # every event delivered: the ledger agrees with Stripe
    finally:
        logging.disable(logging.NOTSET)


def test_an_unfreeze_whose_answer_was_lost_still_unfroze_the_account():
    """Long profile (seed 54342380483178868928024069042239662607): an operator's unfreeze
    committed but its answer was lost. The oracle kept the account as frozen, so a withdrawal
    retried afterwards looked like money sent out of a frozen account. A defect of the
    simulator, not of the wallet: the oracle now follows what committed (World.set_status)."""
    logging.disable(logging.CRITICAL)
    try:
        s = WalletSimulation()
        s.start(platform=False, lowers=False)
        s.withdraw(amount=1, fault=None, nested="retry", who=0)
        s.operator_freezes(fault=None, frozen=True, who=0)
        s.withdraw(amount=1, fault=Plan(at=0, kind="unavailable", port=""), nested="retry", who=0)
        s.operator_freezes(fault=Plan(at=0, kind="lost_answer", port=""), frozen=False, who=0)
        assert "usr_0" not in s.world.frozen_at
        s.teardown()  # the retried withdrawal is paid out: the account was active when it was asked
    finally:
        logging.disable(logging.NOTSET)


def test_spreading_a_wallet_over_shards_while_a_claw_back_lands_keeps_the_claw_back():
    """Long profile: a refund's claw-back was applied between the read of the wallet and the
    spread over shards, and the fake store wrote the wallet it had read back, undoing the
    debit (the books were off by the claw-back). A defect of the in-memory model, not of the
    DynamoDB adapter (which SETs only the count): the fake now writes only the count too."""
    logging.disable(logging.CRITICAL)
    try:
        s = WalletSimulation()
        s.start(platform=False, lowers=False)
        s.stripe_dashboard(amount=1, i=0, what="refund")
        s.invite(a=0, amount=1, contact=0, fault=None, nested="deliver")
        s.merchant_shards(fault=Plan(at=1, kind="interleave", port=""), shards=2, who=0)  # the refund lands inside
        s.books_balance()
        s.teardown()
    finally:
        logging.disable(logging.NOTSET)
