"""The simulator: a Hypothesis state machine that drives every money path of the wallet at
once, with one fault per operation, a simulated clock, and the invariants checked after every
step and at quiescence (docs/simulation.md).

Hypothesis draws the operations, their arguments and their faults from one seed, replays a
failing run exactly and shrinks it to a minimal sequence of steps."""
from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from chalicelib.domain.commands import (
    AddMoney,
    AskQuote,
    ExchangeCurrency,
    OpenAllowance,
    RedeemVouchers,
    RequestPayment,
    SendTransfer,
    WithdrawMoney,
)
from chalicelib.domain.errors import DomainError, ServiceUnavailable
from chalicelib.domain.offline import ALREADY_REDEEMED, CREDITED, OfflinePolicy
from chalicelib.domain.unit_of_work import Audited
from chalicelib.services.funding import Redeliver
from chalicelib.services.replay import Outcome
from offline_wallet.payer import CannotPay, Chain, sign_voucher
from tests.simulation.faults import KINDS, Crash, Plan
from tests.simulation.world import DAY, NEWCOMERS, PEOPLE, World, device_key

PERSON = st.integers(0, PEOPLE - 1)
AMOUNT = st.sampled_from([1, 99, 500, 1250, 4000, 10_000])
# One fault at most per operation: none (most often), or a kind at one of its first port calls.
FAULT = st.one_of(st.none(), st.none(), st.builds(
    Plan, at=st.integers(0, 7), kind=st.sampled_from(KINDS), port=st.sampled_from(["", "dynamodb", "stripe"])))
# What runs inside an `interleave` fault: another process, between two steps of this one.
NESTED = st.sampled_from(["retry", "freeze", "unfreeze", "resume", "deliver", "sweep", "verify"])
OPENING = 20_000  # each person's first top-up
MIN_STEPS = 50  # what a run must reach to count as a full one
JUMPS = st.sampled_from([1, 60, 901, 3600, 23 * 3600, 25 * 3600, 8 * DAY, 31 * DAY])

totals: Counter[str] = Counter()  # across runs, for the long profile's figures


@dataclass
class Phone:
    """A payer's phone with one allowance: the chain it signs from, and the states it had."""

    owner: int
    chain: Chain
    history: list[tuple[int, str, int]] = field(default_factory=list)  # (seq, prev, cumulative) before each voucher
    cloned: bool = False  # a clone signed from it: its honest vouchers may lose to the clone's
    caught: bool = False  # the server saw a double spend of it

    @property
    def release_at(self) -> int:
        exp = int(self.chain.allowance["exp"])
        return exp + OfflinePolicy().grace_seconds


@dataclass
class Paper:
    """A voucher as its payee keeps it (a QR code, scanned)."""

    phone: Phone
    payee: int
    compact: str
    honest: bool


@dataclass
class Call:
    """A client's request whose answer it did not get: it may retry with the same key."""

    name: str
    run: Callable[[], Any]


@dataclass
class Answered:
    """A keyed request's first answer a client got, and when (the simulated clock)."""

    name: str
    body: Any
    at: float


class WalletSimulation(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.w: World | None = None
        self.in_doubt: list[Call] = []
        self.withdrawals: list[str] = []
        self.invitations: list[tuple[int, str]] = []
        self.requests: list[tuple[int, int, str]] = []
        self.newcomers: list[int] = list(range(NEWCOMERS))
        self.nested = "retry"
        self.steps = 0  # operations run (for idempotency keys)
        self.checked = 0  # steps the invariants were checked after (the first: the initial state)
        self.chains: list[Phone] = []  # the payers' phones: one chain per allowance
        self.vouchers: list[Paper] = []  # every voucher signed, held by its payee
        # Each keyed request's first answer a client got (the request: its closure, which every
        # retry of it runs again): whichever of its calls answers, the answer is that one.
        self.answers: dict[Callable[[], Any], Answered] = {}

    @initialize(platform=st.booleans(), lowers=st.booleans())
    def start(self, platform: bool, lowers: bool) -> None:
        self.w = self.make_world(platform, lowers)
        totals["runs"] += 1
        self._opening_balances()

    def _opening_balances(self) -> None:
        """Everyone starts with money topped up by card, through the real path (no faults), so
        that the first steps already move money."""
        w = self.world
        for who in range(PEOPLE):
            w.funding.top_up(w.user(who), uuid.UUID(int=9 * 10**9 + who).hex,
                             AddMoney(w.wallet(who), OPENING, w.card(who)))
        for pi in sorted(w.stripe.intents):
            w.stripe.settle_intent(pi, True)
        while w.stripe.events:
            w.apply(w.stripe.events.pop(0))

    def make_world(self, platform: bool, lowers: bool) -> World:
        """The in-memory world; the DynamoDB Local mode gives its own (same services, same reads)."""
        return World(platform_payouts=platform, failed_refund_lowers_total=lowers)

    @property
    def world(self) -> World:
        assert self.w is not None
        return self.w

    # -- running one operation with its fault -------------------------------------------------
    def do(self, name: str, op: Callable[[], Any], fault: Plan | None, *, retryable: bool = True,
           user: int | None = None, repeat: bool = False) -> None:
        self.steps += 1
        totals[f"op:{name}"] += 1
        inj = self.world.injector
        inj.arm(fault, interleave=lambda: self._nested(name, op, user))
        try:
            self._answered(name, op, op(), repeat=repeat)
        except (ServiceUnavailable, Crash):
            if retryable:
                self.in_doubt.append(Call(name, op))
        except (DomainError, Redeliver) as refused:  # a refusal the API answers with its 4xx
            # The same key and body again, within the key's memory: the first answer, never a refusal.
            assert not repeat, f"a repeat of an answered {name} was refused: {refused!r}"
            totals[f"refused:{name}:{type(refused).__name__}"] += 1
        finally:
            inj.arm(None)

    def _nested(self, name: str, op: Callable[[], Any], user: int | None) -> None:
        totals[f"nested:{self.nested}"] += 1
        try:
            if self.nested == "retry":
                self._answered(name, op, op())
            elif self.nested in ("freeze", "unfreeze") and user is not None:
                self._set_status(user, self.nested == "freeze")
            elif self.nested == "resume":
                self.world.funding.resume_stuck_withdrawals(older_than_seconds=0)
            elif self.nested == "deliver" and self.world.stripe.events:
                self._deliver(0, duplicate=False)
            elif self.nested == "sweep":
                self.world.invitations.sweep()
            elif self.nested == "verify" and self.newcomers:
                self._register_and_verify(self.newcomers[0])
        except (DomainError, ServiceUnavailable, Redeliver):
            pass

    def _answered(self, name: str, op: Callable[[], Any], result: Any, *, repeat: bool = False) -> None:
        """A retry answers what the first call did (a replay), field for field: a payment's
        record rebuilds its answer (`_replay_transfer`), others keep theirs sealed. A repeat of
        an answered request is a replay: nothing new happened."""
        if not isinstance(result, Outcome):
            return
        assert result.replayed or not repeat, f"a repeat of an answered {name} was not a replay: {result!r}"
        first = self.answers.get(op)
        if first is None:
            self.answers[op] = Answered(name, result.body, self.world.clock())
            return
        assert result.body == first.body, (f"a retry of {name} answered {result.body!r}; "
                                           f"the first answer was {first.body!r}")
        totals["answers compared"] += 1

    # -- people and their money -----------------------------------------------------------------
    @rule(who=PERSON, amount=AMOUNT, fault=FAULT, nested=NESTED)
    def top_up(self, who: int, amount: int, fault: Plan | None, nested: str) -> None:
        self.nested = nested
        key = uuid.UUID(int=self.steps).hex
        command = AddMoney(self.world.wallet(who), amount, self.world.card(who))
        self.do("top_up", lambda: self.world.funding.top_up(self.world.user(who), key, command), fault, user=who)

    @rule(a=PERSON, b=PERSON, amount=AMOUNT, by_email=st.booleans(), fault=FAULT, nested=NESTED)
    def pay(self, a: int, b: int, amount: int, by_email: bool, fault: Plan | None, nested: str) -> None:
        self.nested = nested
        key = uuid.UUID(int=10**9 + self.steps).hex
        to = {"email": self.world.email(b)} if by_email else {"wallet_id": self.world.wallet(b)}
        body = SendTransfer.of({"from_wallet_id": self.world.wallet(a), "to": to, "amount": amount, "currency": "USD"})
        self.do("pay", lambda: self.world.ledger.transfer(self.world.user(a), key, body), fault, user=a)

    @rule(a=PERSON, b=st.sampled_from([None, 0, 1, 2, 3]), amount=AMOUNT, fault=FAULT, nested=NESTED)
    def exchange(self, a: int, b: int | None, amount: int, fault: Plan | None, nested: str) -> None:
        """USD into EUR at a quote: between a's own wallets, or (b) paid to b by e-mail in EUR
        (docs/exchange.md). A retry executes the same quote with the same key."""
        self.nested = nested
        key, user, w = uuid.UUID(int=3 * 10**9 + self.steps).hex, self.world.user(a), self.world
        quote: dict[str, Any] = {}

        def op() -> Any:
            if not quote:  # the quote's answer lost: a retry asks for another (nothing was executed)
                w.fetch_rates()
                asked = w.exchanges.quote(user, AskQuote("USD", "EUR", sell_amount=amount))
                # A nested retry may have got one and executed it meanwhile: the client keeps
                # the quote it executed with (another one under the same key is another request).
                if not quote:
                    quote.update(asked)
            if b is None:
                return w.exchanges.exchange(user, key, ExchangeCurrency(quote["quote_id"], w.wallet(a)))
            return w.ledger.transfer(user, key, SendTransfer.of(
                    {"from_wallet_id": w.wallet(a), "to": {"email": w.email(b)},
                     "quote_id": quote["quote_id"]}))
        self.do("exchange" if b is None else "pay_in_eur", op, fault, user=a)

    @rule(a=PERSON, contact=st.integers(0, NEWCOMERS - 1), amount=AMOUNT, fault=FAULT, nested=NESTED)
    def invite(self, a: int, contact: int, amount: int, fault: Plan | None, nested: str) -> None:
        self.nested = nested
        key = uuid.UUID(int=2 * 10**9 + self.steps).hex
        body = {"from_wallet_id": self.world.wallet(a), "to": {"email": self.world.newcomer(contact), "invite": True},
                "amount": amount, "currency": "USD"}

        def op() -> Any:
            out = self.world.ledger.transfer(self.world.user(a), key, SendTransfer.of(body))
            if out.body.get("status") == "unclaimed" and (a, out.body["transfer_id"]) not in self.invitations:
                self.invitations.append((a, out.body["transfer_id"]))
            return out
        self.do("invite", op, fault, user=a)

    @precondition(lambda self: bool(self.invitations))
    @rule(i=st.integers(0, 50), fault=FAULT, nested=NESTED)
    def cancel_invitation(self, i: int, fault: Plan | None, nested: str) -> None:
        self.nested = nested
        sender, transfer_id = self.invitations[i % len(self.invitations)]
        cancel = self.world.invitations.cancel
        self.do("cancel", lambda: cancel(self.world.user(sender), transfer_id), fault, user=sender)

    @precondition(lambda self: bool(self.newcomers))
    @rule(i=st.integers(0, 1), fault=FAULT, nested=NESTED)
    def register_and_verify(self, i: int, fault: Plan | None, nested: str) -> None:
        self.nested = nested
        contact = self.newcomers[i % len(self.newcomers)]
        self.do("verify", lambda: self._register_and_verify(contact), fault)

    def _register_and_verify(self, contact: int) -> None:
        user_id, email = self.world.user(f"new{contact}"), self.world.newcomer(contact)
        if not self.world.known_user(user_id):
            self.world.register(user_id, email, verified=False)
        self.world.verify(user_id, email)
        if contact in self.newcomers:
            self.newcomers.remove(contact)

    @rule(a=PERSON, b=PERSON, amount=AMOUNT, fault=FAULT, nested=NESTED)
    def request_money(self, a: int, b: int, amount: int, fault: Plan | None, nested: str) -> None:
        self.nested = nested
        key = uuid.UUID(int=3 * 10**9 + self.steps).hex

        def op() -> Any:
            out = self.world.requests.create(self.world.user(a), key, RequestPayment.of(
                {"payer": {"email": self.world.email(b)},
                 "amount": amount, "currency": "USD"}))
            if (a, b, out.body["request_id"]) not in self.requests:
                self.requests.append((a, b, out.body["request_id"]))
            return out
        self.do("request", op, fault, user=a)

    @precondition(lambda self: bool(self.requests))
    @rule(i=st.integers(0, 50), action=st.sampled_from(["pay", "decline", "cancel"]), fault=FAULT, nested=NESTED)
    def answer_request(self, i: int, action: str, fault: Plan | None, nested: str) -> None:
        self.nested = nested
        requester, payer, request_id = self.requests[i % len(self.requests)]
        reqs, key = self.world.requests, uuid.UUID(int=4 * 10**9 + self.steps).hex
        op: Callable[[], Any] = {
            "pay": lambda: reqs.pay(self.world.user(payer), key, request_id, self.world.wallet(payer)),
            "decline": lambda: reqs.decline(self.world.user(payer), request_id),
            "cancel": lambda: reqs.cancel(self.world.user(requester), request_id)}[action]
        self.do(action, op, fault, user=payer if action == "pay" else requester)

    @rule(who=PERSON, amount=AMOUNT, fault=FAULT, nested=NESTED)
    def withdraw(self, who: int, amount: int, fault: Plan | None, nested: str) -> None:
        self.nested = nested
        key = uuid.UUID(int=5 * 10**9 + self.steps).hex
        funding = self.world.funding

        def op() -> Any:
            out = funding.withdraw(self.world.user(who), key, WithdrawMoney(self.world.wallet(who), amount), otp="1")
            if out.body["withdrawal_id"] not in self.withdrawals:
                self.withdrawals.append(out.body["withdrawal_id"])
            return out
        self.do("withdraw", op, fault, user=who)

    # -- offline: allowances, vouchers (honest, forked, replayed), redemption, release ----------
    @rule(who=PERSON, amount=AMOUNT, expires=st.sampled_from([60, 3600, DAY, 7 * DAY]), fault=FAULT, nested=NESTED)
    def take_allowance(self, who: int, amount: int, expires: int, fault: Plan | None, nested: str) -> None:
        self.nested = nested
        key = uuid.UUID(int=6 * 10**9 + self.steps).hex
        body = OpenAllowance(self.world.devices[who], self.world.wallet(who), amount, expires)

        def op() -> Any:
            out = self.world.offline.create_allowance(self.world.user(who), key, body, otp="1")
            if all(c.chain.certificate != out.body["certificate"] for c in self.chains):
                totals["allowances"] += 1
                self.chains.append(Phone(who, Chain(out.body["certificate"])))
            return out
        self.do("allowance", op, fault, user=who)

    @precondition(lambda self: bool(self.chains))
    @rule(i=st.integers(0, 50), other=st.integers(1, PEOPLE - 1), amount=AMOUNT, fork=st.integers(0, 4),
          online=st.booleans(), fault=FAULT, nested=NESTED)
    def pay_offline(self, i: int, other: int, amount: int, fork: int, online: bool, fault: Plan | None,
                    nested: str) -> None:
        """The payer's phone signs a voucher to someone else, with no network (at most what is
        left on it). `fork` > 0: a cloned phone signs from a state the chain had before (the
        same seq again: a double spend). `online`: the payee redeems it at once."""
        phone = self.chains[-1 - i % len(self.chains)]
        payee = (phone.owner + other) % PEOPLE
        forked = fork > 0 and bool(phone.history)
        chain = Chain(phone.chain.certificate, *phone.history[-fork % len(phone.history)]) if forked else phone.chain
        state = (chain.seq, chain.prev, chain.cumulative)
        amount = min(amount, chain.remaining) or amount
        try:
            compact = sign_voucher(chain, device_key(phone.owner), self.world.user(payee), amount, self.world.clock())
        except CannotPay:
            totals["signed:refused"] += 1
            return  # the phone refuses: more than is left, or the allowance expired
        totals["signed:forked" if forked else "signed:honest"] += 1
        if forked:
            phone.cloned = True
        else:
            phone.history.append(state)
        self.vouchers.append(Paper(phone, payee, compact, honest=not forked))
        if online:
            self.redeem_offline(0, None, fault, nested)

    @precondition(lambda self: bool(self.vouchers))
    @rule(i=st.integers(0, 50), by=st.sampled_from([None, None, None, 0, 1]), fault=FAULT, nested=NESTED)
    def redeem_offline(self, i: int, by: int | None, fault: Plan | None, nested: str) -> None:
        """The payee (or someone who copied the code) presents a voucher, maybe again."""
        self.nested = nested
        paper = self.vouchers[-1 - i % len(self.vouchers)]  # the newest, most often
        presenter = paper.payee if by is None else by
        key = uuid.UUID(int=7 * 10**9 + self.steps).hex
        body = RedeemVouchers(paper.phone.chain.certificate, (paper.compact,))

        def op() -> Any:  # run again by a retry, later: the release is compared with its time
            before_release = self.world.clock() < paper.phone.release_at
            out = self.world.offline.redeem(self.world.user(presenter), key, body)
            result = out.body["results"][0]
            totals[f"voucher:{result.get('code') or result['status']}"] += 1
            if paper.honest and presenter == paper.payee and before_release and not paper.phone.cloned:
                # An honest voucher, presented by its payee before the release, is always paid.
                assert result["status"] in (CREDITED, ALREADY_REDEEMED), result
            if result.get("code") == "double_spend":
                paper.phone.caught = True
            return out
        self.do("redeem", op, fault, user=presenter)

    # -- merchants: credits spread over shards, folded back ----------------------------------------
    @rule(who=PERSON, shards=st.sampled_from([0, 2, 4]), fault=FAULT)
    def merchant_shards(self, who: int, shards: int, fault: Plan | None) -> None:
        """An operator spreads a wallet's credits over shards; or (0) they are folded back, as a
        debit short on the main item does first."""
        wallet, w = self.world.wallet(who), self.world
        if shards:
            self.do("spread", lambda: w.ledger.spread_credits(
                wallet, shards, record=Audited(None, w.audit("wallet spread", wallet))), fault, retryable=False)
        else:
            self.do("fold", lambda: w.ledger.store.sweep(wallet), fault, retryable=False)

    @precondition(lambda self: bool(self.in_doubt))
    @rule(i=st.integers(0, 50), fault=FAULT, nested=NESTED)
    def client_retries(self, i: int, fault: Plan | None, nested: str) -> None:
        self.nested = nested
        call = self.in_doubt.pop(i % len(self.in_doubt))
        self.do(call.name, call.run, fault)

    @precondition(lambda self: bool(self.answers))
    @rule(i=st.integers(0, 50), fault=FAULT, nested=NESTED)
    def client_repeats(self, i: int, fault: Plan | None, nested: str) -> None:
        """A client whose answer was lost on its way back (its own timeout, a dropped connection)
        sends the request again with its key. Within the key's memory (30 days; here, a day)
        it gets the first answer again, whatever happened since (a freeze, money spent)."""
        self.nested = nested
        op, first = list(self.answers.items())[i % len(self.answers)]
        if self.world.clock() - first.at <= DAY:
            totals[f"repeat:{first.name}"] += 1
            self.do(first.name, op, fault, repeat=True)

    # -- operators --------------------------------------------------------------------------------
    def _set_status(self, who: int, frozen: bool) -> None:
        self.world.set_status(self.world.user(who), "frozen" if frozen else "active")

    @rule(who=PERSON, frozen=st.booleans(), fault=FAULT)
    def operator_freezes(self, who: int, frozen: bool, fault: Plan | None) -> None:
        self.do("freeze", lambda: self._set_status(who, frozen), fault, retryable=False)

    @precondition(lambda self: any(w.status == "needs_attention" for w in self.world.withdrawals().values()))
    @rule(i=st.integers(0, 50), fault=FAULT)
    def operator_resolves(self, i: int, fault: Plan | None) -> None:
        """A person checks Stripe, then records what they saw (as the runbook says)."""
        withdrawals = self.world.withdrawals()
        waiting = sorted(w for w, v in withdrawals.items() if v.status == "needs_attention")
        wid = waiting[i % len(waiting)]
        paid = self.world.stripe.paid_out(wid) > 0 or any(
            p["metadata"].get("withdrawal_id") == wid and p["status"] == "pending"
            for p in self.world.stripe.payouts.values())
        w = withdrawals[wid]
        self.do("resolve", lambda: self.world.funding.resolve_attention(
            w, paid=paid, audit=self.world.audit("withdrawal resolve", wid)), fault, retryable=True)

    # -- scheduled jobs and time -----------------------------------------------------------------
    @rule(job=st.sampled_from(["resume", "sweep", "expire", "release"]), fault=FAULT)
    def scheduled_job(self, job: str, fault: Plan | None) -> None:
        w = self.world
        jobs: dict[str, Callable[[], Any]] = {
            "resume": w.funding.resume_stuck_withdrawals, "sweep": w.invitations.sweep, "expire": w.requests.expire,
            "release": w.release.release_due}
        self.do(job, jobs[job], fault, retryable=False)

    @rule(seconds=JUMPS)
    def time_passes(self, seconds: int) -> None:
        self.world.clock.advance(seconds)

    # -- Stripe, on its own ---------------------------------------------------------------------
    @precondition(lambda self: bool(self.world.stripe.intents))
    @rule(i=st.integers(0, 50), outcome=st.sampled_from(["succeeded", "succeeded", "failed"]))
    def card_settles(self, i: int, outcome: str) -> None:
        intents = sorted(self.world.stripe.intents)
        self.world.stripe.settle_intent(intents[i % len(intents)], outcome == "succeeded")

    @precondition(lambda self: bool(self.world.stripe.intents))
    @rule(i=st.integers(0, 50), what=st.sampled_from(["refund", "fail_refund", "dispute", "win", "lose"]),
          amount=AMOUNT)
    def stripe_dashboard(self, i: int, what: str, amount: int) -> None:
        s = self.world.stripe
        if what == "refund":
            intents = sorted(s.intents)
            s.refund(intents[i % len(intents)], amount)
        elif what == "fail_refund" and s.refunds:
            s.fail_refund(sorted(s.refunds)[i % len(s.refunds)])
        elif what == "dispute":
            intents = sorted(s.intents)
            s.open_dispute(intents[i % len(intents)], amount)
        elif what in ("win", "lose") and s.disputes:
            s.close_dispute(sorted(s.disputes)[i % len(s.disputes)], what == "win")

    @precondition(lambda self: bool(self.world.stripe.payouts))
    @rule(i=st.integers(0, 50), paid=st.sampled_from([True, True, False]))
    def bank_answers(self, i: int, paid: bool) -> None:
        payouts = sorted(self.world.stripe.payouts)
        self.world.stripe.settle_payout(payouts[i % len(payouts)], paid)

    @precondition(lambda self: bool(self.world.stripe.events))
    @rule(i=st.integers(0, 50), duplicate=st.booleans(), fault=FAULT)
    def webhook_arrives(self, i: int, duplicate: bool, fault: Plan | None) -> None:
        """Any waiting event, in any order, sometimes twice: the queue redelivers what failed."""
        self.steps += 1
        self.world.injector.arm(fault)
        try:
            self._deliver(i, duplicate)
        finally:
            self.world.injector.arm(None)

    def _deliver(self, i: int, duplicate: bool) -> None:
        events = self.world.stripe.events
        event = events.pop(i % len(events))
        try:
            self.world.apply(event)
        except (Redeliver, ServiceUnavailable, Crash):
            events.append(event)  # SQS delivers it again after the visibility timeout
            return
        if duplicate:
            events.append(event)
        totals["events"] += 1

    # -- invariants after every step ----------------------------------------------------------
    @invariant()
    def books_balance(self) -> None:
        if self.w is None:
            return
        totals["steps"] += 1  # checked after every step
        self.checked += 1
        report = self.world.reconcile()
        assert report.ok, report.drift
        for wallet in self.world.wallets():
            if wallet.kind == "user":
                assert min(wallet.balance, wallet.held, wallet.available) >= 0, wallet

    @invariant()
    def offline_within_allowances(self) -> None:
        """Whatever the phones signed (forks included), no allowance pays out more than it
        held, each (allowance, seq) at most once, each through a posted transfer of its amount."""
        if self.w is None:
            return
        credited: Counter[str] = Counter()
        for r in self.world.redemptions():
            credited[r.allowance_id] += r.amount
            t = self.world.transfer(r.transfer_id)
            assert t is not None and t.status == "posted" and t.amount == r.amount, r
        for a in self.world.allowances():
            assert credited[a.allowance_id] == a.spent <= a.amount, (a.allowance_id, credited[a.allowance_id], a)

    @invariant()
    def stripe_asked_once(self) -> None:
        if self.w is None:
            return
        s = self.world.stripe
        assert not s.violations, s.violations
        made = Counter((c.kind, c.purpose) for c in s.created)
        twice = [k for k, n in made.items() if n > 1]
        assert not twice, f"asked Stripe more than once for the same purpose: {twice}"

    @invariant()
    def holds_agree_with_their_owners(self) -> None:
        if self.w is None:
            return
        world, s = self.world, self.world.stripe
        for wid, w in world.withdrawals().items():
            hold = world.transfer(wid)
            assert hold is not None, wid
            expected = {"pending": ("pending",), "needs_attention": ("pending",), "paid": ("posted",),
                        "failed": ("voided", "posted")}[w.status]
            assert hold.status in expected, (wid, w.status, hold.status)
            if hold.status == "voided":  # given back: no payout may exist or be on its way
                assert not any(p["metadata"].get("withdrawal_id") == wid and p["status"] in ("pending", "paid")
                               for p in s.payouts.values()), f"{wid} given back after a payout was made"
        for tid, inv in world.invitation_records().items():
            hold = world.transfer(tid)
            assert hold is not None, tid
            expected_inv = {"unclaimed": "pending", "posted": "posted", "expired": "voided", "canceled": "voided"}
            assert hold.status == expected_inv[inv.status], (tid, inv.status, hold.status)

    # -- quiescence: every job run, every event delivered, no fault ---------------------------------
    def teardown(self) -> None:
        if self.w is None:
            return
        if self.checked > MIN_STEPS:
            totals["runs of 50+ steps"] += 1
        self._quiesce()
        self._final_checks()

    def _quiesce(self) -> None:
        w, s = self.world, self.world.stripe
        w.injector.enabled = False
        for call in self.in_doubt:  # clients that still retry (the others are left to the jobs)
            with contextlib.suppress(DomainError, ServiceUnavailable):
                self._answered(call.name, call.run, call.run())
        self.in_doubt.clear()
        for _round in range(6):
            w.clock.advance(3600)
            w.funding.resume_stuck_withdrawals()
            for pi in sorted(s.intents):
                s.settle_intent(pi, True)
            for po in sorted(s.payouts):
                s.settle_payout(po, True)
            for d in sorted(s.disputes):
                s.close_dispute(d, True)
            for _ in range(10 * len(s.events) + 10):
                if not s.events:
                    break
                self._deliver(0, duplicate=False)
        w.clock.advance(31 * DAY)
        w.invitations.sweep()
        w.requests.expire()
        w.release.release_due()
        for _ in range(10 * len(s.events) + 10):
            if not s.events:
                break
            self._deliver(0, duplicate=False)
        totals.update(w.injector.injected)

    def _final_checks(self) -> None:
        w, s = self.world, self.world.stripe
        self.books_balance()
        self.stripe_asked_once()
        self.holds_agree_with_their_owners()
        assert not s.events, f"events never applied: {[e['type'] for e in s.events]}"
        withdrawals = w.withdrawals()
        for wid, wd in withdrawals.items():
            assert wd.status in ("paid", "failed", "needs_attention"), (wid, wd.status)
            if wd.status == "paid":
                assert s.paid_out(wid) == wd.amount, (wid, s.paid_out(wid))
            if wd.status == "failed":
                assert s.paid_out(wid) == 0, (wid, "failed but paid out")
            if wd.status != "needs_attention" and not s.platform_payouts:
                assert s.left_in_account(wid) == 0, (wid, "money left in the connected account")
        for inv in w.invitation_records().values():
            assert inv.status in ("posted", "expired", "canceled"), inv
        for a in w.allowances():  # every allowance closed: what was not spent went back
            assert a.status == "closed", a
        for phone in self.chains:  # a double spend freezes the phone that signed it
            device = w.device(phone.owner)
            assert not phone.caught or (device is not None and device.status == "frozen"), phone.owner
        shortfall = any(t.shortfall for t in w.topups())
        ledger_in = -w.system_balance("stripe_clearing", "USD") - w.system_balance("disputes", "USD")
        assert ledger_in == s.money_in("USD") or shortfall, (ledger_in, s.money_in("USD"))
        out = w.system_balance("payouts", "USD")
        paid = sum(s.paid_out(wid) for wid in withdrawals)
        attention = any(wd.status == "needs_attention" for wd in withdrawals.values())
        assert out == paid or attention, (out, paid)
