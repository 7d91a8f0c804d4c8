"""Exchange on DynamoDB Local: one transaction per execution, a quote used once, every currency
summing to zero, and reconciliation reporting the exchange accounts (docs/exchange.md)."""
from __future__ import annotations

import dataclasses
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.domain.commands import AskQuote, ExchangeCurrency, SendTransfer
from chalicelib.domain.errors import AccountFrozen, InvalidRequest, NotFound
from chalicelib.domain.fx import QuoteExpired, QuoteUsed, RatesUnavailable
from chalicelib.domain.ledger import (
    CurrencyMismatch,
    IdempotencyKeyReused,
    InsufficientFunds,
    LimitExceeded,
    RecipientNotFound,
)
from chalicelib.domain.results import QuoteView
from chalicelib.services.exchange import Exchanges
from chalicelib.services.reconcile import reconcile
from tests.integration.test_ledger_dynamodb import fund, person


@pytest.fixture
def fx(stack_container) -> Exchanges:
    return stack_container.exchanges


def quote(fx: Exchanges, user: str, sell: str = "USD", buy: str = "JPY", **amount: int) -> QuoteView:
    return fx.quote(user, AskQuote(sell, buy, **(amount or {"sell_amount": 10_000})))


def execute(fx: Exchanges, user: str, q: QuoteView, wallet: str, key: str | None = None, **extra: str):
    return fx.exchange(user, key or uuid.uuid4().hex, ExchangeCurrency(q["quote_id"], wallet, **extra))


def balance(c, wallet_id: str) -> int:
    w = c.ledger_store.get_wallet(wallet_id)
    return w.balance if w else 0


def test_an_exchange_moves_both_legs_in_one_transaction(stack_container, fx):
    c = stack_container
    u, _, usd = person(c)
    fund(c.ledger, usd, 50_000)
    q = quote(fx, u, sell_amount=10_000)
    out = execute(fx, u, q, usd)
    body = out.body
    assert body["sell"] == {"amount": 10_000, "currency": "USD"} and body["buy"] == q["buy"]
    assert body["status"] == "posted" and body["rate"] == q["rate"] and body["fee"] == q["fee"]
    jpy = body["to_wallet_id"]
    assert c.ledger_store.get_wallet(jpy).currency == "JPY"  # the default JPY wallet, opened
    assert balance(c, usd) == 40_000 and balance(c, jpy) == q["buy"]["amount"]
    # One transaction: the transaction's own writes, nothing before or after it.
    legs = [e for w in (usd, jpy) for e in c.ledger_store.all_entries(w) if e.type == "exchange"]
    assert {(e.wallet_id, e.direction, e.amount) for e in legs} == {(usd, "debit", 10_000),
                                                                  (jpy, "credit", q["buy"]["amount"])}
    sell_leg = c.ledger_store.get_transfer(body["exchange_id"])
    assert sell_leg.type == "exchange" and sell_leg.to_wallet_id.startswith("sys:fx:USD:")
    report = reconcile(c.ledger_store)
    assert report.drift == [] and report.fx_revenue["USD"] >= q["fee"]["amount"] == 50


def test_the_same_key_replays_and_another_key_finds_the_quote_used(stack_container, fx):
    c = stack_container
    u, _, usd = person(c)
    fund(c.ledger, usd, 50_000)
    q = quote(fx, u, buy_amount=5_000)
    first = execute(fx, u, q, usd, key="same")
    again = execute(fx, u, q, usd, key="same")
    assert again.replayed and again.body == first.body
    with pytest.raises(IdempotencyKeyReused):
        fx.exchange(u, "same", ExchangeCurrency(q["quote_id"], usd, "x"))
    with pytest.raises(QuoteUsed):
        execute(fx, u, q, usd)
    assert balance(c, usd) == 50_000 - q["sell"]["amount"]
    assert balance(c, first.body["to_wallet_id"]) == 5_000  # exactly the amount asked for


def test_a_refused_attempt_leaves_the_quote_usable(stack_container, fx):
    c = stack_container
    u, _, usd = person(c)
    q = quote(fx, u, sell_amount=2_000)
    with pytest.raises(InsufficientFunds):
        execute(fx, u, q, usd, key="k1")
    fund(c.ledger, usd, 2_000)
    assert execute(fx, u, q, usd, key="k1").body["sell"]["amount"] == 2_000  # same key, now it works
    assert balance(c, usd) == 0


def test_expired_unknown_foreign_and_mismatched_quotes_are_refused(stack_container, fx):
    c = stack_container
    u, _, usd = person(c)
    other, _, other_usd = person(c)
    fund(c.ledger, usd, 10_000)
    q = quote(fx, u, sell_amount=1_000)
    later = dataclasses.replace(fx, now=lambda: time.time() + 31)
    with pytest.raises(QuoteExpired):
        execute(later, u, q, usd)
    stale = dataclasses.replace(fx, now=lambda: time.time() + 5 * 86400)  # the stack's rates, 5 days on
    with pytest.raises(RatesUnavailable):
        quote(stale, u)
    assert stale.rates()["base"] == "EUR"  # still shown as published, with their date
    with pytest.raises(NotFound):
        execute(fx, other, q, other_usd)  # someone else's quote
    with pytest.raises(NotFound):
        fx.exchange(u, "k", ExchangeCurrency("qt_nope", usd))
    eur = c.ledger.open_wallet(u, "EUR").wallet_id
    with pytest.raises(CurrencyMismatch):
        execute(fx, u, q, eur)  # not the sell currency
    with pytest.raises(CurrencyMismatch):
        execute(fx, u, q, usd, to_wallet_id=eur)  # not the buy currency
    with pytest.raises(NotFound):
        execute(fx, u, q, other_usd)  # someone else's wallet
    assert balance(c, usd) == 10_000
    assert execute(fx, u, q, usd).body["buy"]["currency"] == "JPY"  # still usable after all that


def test_a_frozen_account_cannot_exchange(stack_container, fx):
    c = stack_container
    u, _, usd = person(c)
    fund(c.ledger, usd, 500_000)
    q = quote(fx, u, sell_amount=1_000)
    ops = c.operations("arn:aws:sts::123456789012:user/test")
    ops.set_frozen(u, True, "exchange test")
    with pytest.raises(AccountFrozen):
        execute(fx, u, q, usd)
    assert balance(c, usd) == 500_000
    ops.set_frozen(u, False, "exchange test")
    assert execute(fx, u, q, usd).body["status"] == "posted"  # the refusal left the quote usable


def test_the_daily_limit_counts_the_sell_amount(stack_container, fx):
    c = stack_container
    u, _, usd = person(c)
    fund(c.ledger, usd, 500_000)
    tight = dataclasses.replace(fx, ledger=dataclasses.replace(
        c.ledger, policy=dataclasses.replace(c.ledger.policy, daily_limit_major=30)))
    execute(tight, u, quote(fx, u, sell_amount=2_000), usd)  # 20.00 of 30.00 USD today
    with pytest.raises(LimitExceeded):
        execute(tight, u, quote(fx, u, sell_amount=1_001), usd)
    execute(tight, u, quote(fx, u, sell_amount=1_000), usd)  # exactly to the limit


def payer_and_payee(c) -> tuple[str, str, str, str, str]:
    """(payer, payer's funded USD wallet, payee, payee's e-mail, payee's USD wallet)."""
    a, _, usd = person(c)
    b, b_email, b_usd = person(c)
    fund(c.ledger, usd, 20_000)
    return a, usd, b, b_email, b_usd


def test_paying_someone_in_another_currency(stack_container, fx):
    c = stack_container
    a, usd, b, b_email, _ = payer_and_payee(c)
    q = quote(fx, a, "USD", "GBP", buy_amount=4_321)
    out = c.ledger.transfer(a, "pay-1", SendTransfer.of(
        {"from_wallet_id": usd, "to": {"email": b_email}, "quote_id": q["quote_id"],
         "memo": "rent"}))
    body = out.body
    assert body["amount"] == q["sell"]["amount"] and body["currency"] == "USD"
    assert body["delivered"] == {"amount": 4_321, "currency": "GBP"} and body["memo"] == "rent"
    gbp = c.ledger_store.default_wallet_id(b, "GBP")
    assert body["to_wallet_id"] == gbp and balance(c, gbp) == 4_321
    # Both parties see the payment, with what was delivered; the recipient's leg carries the memo.
    for who in (a, b):
        view = c.ledger.get_transfer(who, body["transfer_id"])
        assert view["delivered"] == {"amount": 4_321, "currency": "GBP"} and view["to_wallet_id"] == gbp
    items, _ = c.ledger.statement(b, gbp, 10, None)
    assert items[0]["type"] == "transfer" and items[0]["memo"] == "rent" and items[0]["amount"] == 4_321
    again = c.ledger.transfer(a, "pay-1", SendTransfer.of({"from_wallet_id": usd, "to": {"email": b_email},
                                                           "quote_id": q["quote_id"], "memo": "rent"}))
    assert again.replayed and again.body == body
    with pytest.raises(QuoteUsed):
        c.ledger.transfer(a, "pay-2", SendTransfer.of(
            {"from_wallet_id": usd, "to": {"email": b_email}, "quote_id": q["quote_id"]}))


def test_a_quote_payment_follows_every_transfer_rule(stack_container, fx):
    c = stack_container
    a, usd, _, _, b_usd = payer_and_payee(c)
    q = quote(fx, a, "USD", "SGD", sell_amount=1_000)
    nobody = f"nobody.{uuid.uuid4().hex[:8]}@example.com"
    with pytest.raises(RecipientNotFound):
        c.ledger.transfer(a, "r1", SendTransfer.of(
            {"from_wallet_id": usd, "to": {"email": nobody}, "quote_id": q["quote_id"]}))
    with pytest.raises(InvalidRequest):  # an invitation cannot carry a quote
        c.ledger.transfer(a, "r2", SendTransfer.of({"from_wallet_id": usd, "to": {"email": nobody, "invite": True},
                                                    "quote_id": q["quote_id"]}))
    with pytest.raises(CurrencyMismatch):  # the recipient's wallet is not in the buy currency
        c.ledger.transfer(a, "r3", SendTransfer.of(
            {"from_wallet_id": usd, "to": {"wallet_id": b_usd}, "quote_id": q["quote_id"]}))
    ops = c.operations("arn:aws:sts::123456789012:user/test")
    ops.set_frozen(a, True, "exchange test")
    _, b2_email, _ = person(c)
    with pytest.raises(AccountFrozen):
        c.ledger.transfer(a, "r4", SendTransfer.of(
            {"from_wallet_id": usd, "to": {"email": b2_email}, "quote_id": q["quote_id"]}))
    ops.set_frozen(a, False, "exchange test")
    assert balance(c, usd) == 20_000
    out = c.ledger.transfer(a, "r5", SendTransfer.of(
        {"from_wallet_id": usd, "to": {"email": b2_email}, "quote_id": q["quote_id"]}))
    assert out.body["delivered"]["currency"] == "SGD" and balance(c, usd) == 19_000


def test_many_concurrent_executions_of_one_quote_exactly_one_wins(stack_container, fx):
    c = stack_container
    u, _, usd = person(c)
    fund(c.ledger, usd, 100_000)
    q = quote(fx, u, "USD", "EUR", sell_amount=7_777)

    def attempt(i: int) -> str:
        try:
            execute(fx, u, q, usd, key=f"race-{i}")
        except QuoteUsed:
            return "used"
        return "won"

    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(attempt, range(12)))
    assert outcomes.count("won") == 1 and outcomes.count("used") == 11
    assert balance(c, usd) == 100_000 - 7_777


def test_reconciliation_reports_fx_and_finds_no_drift_after_mixed_movements(stack_container, fx):
    c = stack_container
    a, a_email, usd = person(c)
    b, b_email, b_usd = person(c)
    fund(c.ledger, usd, 300_000)
    fund(c.ledger, b_usd, 100_000)
    for sell, buy, amounts in (("USD", "JPY", {"sell_amount": 12_345}), ("USD", "EUR", {"buy_amount": 999}),
                               ("USD", "GBP", {"sell_amount": 2})):
        execute(fx, a, quote(fx, a, sell, buy, **amounts), usd)
    jpy = c.ledger_store.default_wallet_id(a, "JPY")
    execute(fx, a, quote(fx, a, "JPY", "SGD", sell_amount=500), jpy)
    c.ledger.transfer(a, uuid.uuid4().hex, SendTransfer.of(
        {"from_wallet_id": usd, "to": {"email": b_email}, "amount": 555,
         "currency": "USD"}))
    c.ledger.transfer(b, uuid.uuid4().hex, SendTransfer.of(
        {"from_wallet_id": b_usd, "to": {"email": a_email},
         "quote_id": quote(fx, b, "USD", "JPY", buy_amount=777)["quote_id"]}))
    report = reconcile(c.ledger_store)
    assert report.drift == []
    assert all(total == 0 for total in report.totals.values())
    assert report.fx_revenue.get("USD", 0) > 0 and report.fx_revenue.get("JPY", 0) > 0
    assert report.fx_positions["JPY"] < 0 < report.fx_positions["USD"]
    for ccy in set(report.fx_positions) | set(report.fx_revenue):
        assert report.fx_revenue.get(ccy, 0) >= 0
