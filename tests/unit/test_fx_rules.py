"""Exchange arithmetic (domain.fx) against figures computed independently, with exact fractions,
from the rates file itself; and the properties that keep the house from losing to rounding."""
from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction
from itertools import permutations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.config import Settings
from chalicelib.domain.errors import InvalidRequest
from chalicelib.domain.fx import (
    MAX_AGE_SECONDS,
    RatesFileError,
    RatesUnavailable,
    SameCurrency,
    buy_for,
    parse_ecb_daily,
    price,
    sell_for,
)
from chalicelib.domain.money import EXPONENTS, Money
from devstack.fx_rates import ecb_daily_xml

DAY = "2026-12-04"
FILE = ecb_daily_xml(DAY)
CURRENCIES = Settings().currencies  # the configured default: USD, EUR, GBP, SGD, JPY
PAIRS = list(permutations(CURRENCIES, 2))
AMOUNTS = (1, 7, 99, 100, 1250, 99_999, 1_000_000, 123_456_789)
SPREADS = (0, 50, 125)


def file_rates() -> dict[str, Fraction]:
    """Units per EUR read from the XML text with a regular expression: not the parser under test."""
    found = {c: Fraction(r) for c, r in re.findall(r"currency='([A-Z]{3})' rate='([0-9.]+)'", FILE)}
    return {**found, "EUR": Fraction(1)}


def truncated(x: Fraction, digits: int = 20) -> Fraction:
    """x cut (toward zero) to `digits` significant digits, in integers."""
    e = len(str(x.numerator // x.denominator)) - 1 if x >= 1 else -len(str(x.denominator // x.numerator))
    while Fraction(10) ** e > x:
        e -= 1
    while Fraction(10) ** (e + 1) <= x:
        e += 1
    scale = Fraction(10) ** (digits - 1 - e)
    return Fraction(math.floor(x * scale)) / scale


def expected(sell_ccy: str, buy_ccy: str, bps: int, *, sell: int | None = None,
             buy: int | None = None) -> tuple[int, int, int, Fraction, Fraction]:
    """(sell, buy, fee, mid, rate) as the contract defines them, in exact fractions."""
    r = file_rates()
    mid = truncated(r[buy_ccy] / r[sell_ccy])
    rate = mid * (10000 - bps) / 10000
    k = Fraction(10) ** (EXPONENTS[buy_ccy] - EXPONENTS[sell_ccy])
    if sell is not None:
        buy = math.floor(sell * rate * k)
    else:
        assert buy is not None
        sell = math.ceil(buy / (rate * k))
    fee = sell - math.ceil(buy / (mid * k))
    return sell, buy, fee, mid, rate


RATES = parse_ecb_daily(FILE.encode())


@pytest.mark.parametrize(("sell_ccy", "buy_ccy"), PAIRS)
@pytest.mark.parametrize("bps", SPREADS)
def test_every_configured_pair_matches_exact_fractions_to_the_minor_unit(sell_ccy, buy_ccy, bps):
    for amount in AMOUNTS:
        want = expected(sell_ccy, buy_ccy, bps, sell=amount)
        if want[1] > 0:
            got = price(RATES, sell_ccy, buy_ccy, spread_bps=bps, sell_amount=amount)
            assert (got.sell.amount, got.buy.amount, got.fee.amount) == want[:3], (sell_ccy, buy_ccy, amount)
            assert (Fraction(got.mid), Fraction(got.rate)) == want[3:]
            assert got.fee.currency == sell_ccy and got.buy.currency == buy_ccy
        else:  # buys less than one minor unit: refused, never a quote of nothing
            with pytest.raises(InvalidRequest):
                price(RATES, sell_ccy, buy_ccy, spread_bps=bps, sell_amount=amount)
        want = expected(sell_ccy, buy_ccy, bps, buy=amount)
        got = price(RATES, sell_ccy, buy_ccy, spread_bps=bps, buy_amount=amount)
        assert (got.sell.amount, got.buy.amount, got.fee.amount) == want[:3], (sell_ccy, buy_ccy, amount)


def test_known_figures_with_jpy_and_the_default_spread():
    # 100.00 USD at 162.45/1.0812 = 150.249722530521642619... truncated to 20 digits.
    q = price(RATES, "USD", "JPY", spread_bps=50, sell_amount=10000)
    assert str(q.mid) == "150.24972253052164261"
    assert q.rate == Decimal("150.24972253052164261") * Decimal("0.995")
    assert q.buy == Money(14949, "JPY") and q.fee == Money(50, "USD")
    q = price(RATES, "JPY", "USD", spread_bps=50, sell_amount=10000)
    assert q.buy == Money(6622, "USD") and q.fee == Money(50, "JPY")


def test_terminating_cross_rates_are_exact():
    assert RATES.mid("EUR", "USD") == Decimal("1.0812")
    assert str(RATES.mid("USD", "EUR")) == "0.92489826119126896041"  # 1/1.0812 = 0.9248982611912689604143...
    assert Fraction(RATES.mid("USD", "EUR")) == truncated(1 / Fraction("1.0812"))
    assert str(RATES.mid("EUR", "JPY")) == "162.45"


def test_same_currency_and_missing_rates_are_refused():
    with pytest.raises(SameCurrency):
        price(RATES, "USD", "USD", spread_bps=50, sell_amount=100)
    rates = parse_ecb_daily(ecb_daily_xml(DAY, {"USD": "1.0812"}).encode())
    with pytest.raises(RatesUnavailable):
        price(rates, "USD", "JPY", spread_bps=50, sell_amount=100)


def test_rates_older_than_four_days_are_stale():
    start = RATES.day_start()
    assert RATES.fresh_at(start + MAX_AGE_SECONDS)
    assert not RATES.fresh_at(start + MAX_AGE_SECONDS + 1)


@pytest.mark.parametrize("bad", [
    FILE.replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<!DOCTYPE x [<!ENTITY a 'b'>]>"),
    FILE.replace("rate='1.0812'", "rate='1e3'"),
    FILE.replace("rate='1.0812'", "rate='-1.0812'"),
    FILE.replace("rate='1.0812'", "rate='0'"),
    FILE.replace("currency='JPY'", "currency='USD'"),
    FILE.replace("currency='JPY'", "currency='EUR'"),
    FILE.replace(f"time='{DAY}'", "time='2026-13-40'"),
    FILE.replace("<Cube>", "<Cube><Cube time='2026-12-03'/>"),
    "<not-xml",
    ecb_daily_xml(DAY, {}),
])
def test_parser_refuses_anything_but_one_clean_day(bad):
    with pytest.raises(RatesFileError):
        parse_ecb_daily(bad.encode())


def test_parser_reads_the_ecb_format():
    assert RATES.as_of == DAY and RATES.rates["USD"] == Decimal("1.0812") and len(RATES.rates) == 30
    assert "EUR" not in RATES.rates and RATES.published()["ISK"] == "150.10"


currency = st.sampled_from(sorted(CURRENCIES))
amount = st.integers(min_value=1, max_value=10**12)
spread = st.integers(min_value=0, max_value=1000)


@settings(max_examples=300, deadline=None)
@given(currency, currency, amount, spread)
def test_buy_is_rounded_down_and_sell_is_the_smallest_that_covers(a, b, n, bps):
    if a == b:
        return
    rate = price(RATES, a, b, spread_bps=bps, buy_amount=1).rate
    k = Fraction(10) ** (EXPONENTS[b] - EXPONENTS[a])
    exact = n * Fraction(rate) * k
    bought = buy_for(Money(n, a), b, rate).amount
    assert bought <= exact < bought + 1
    sell = sell_for(Money(n, b), a, rate).amount
    assert buy_for(Money(sell, a), b, rate).amount >= n
    assert sell == 1 or buy_for(Money(sell - 1, a), b, rate).amount < n


@settings(max_examples=300, deadline=None)
@given(currency, currency, amount, spread)
def test_round_trips_never_return_more_and_the_house_never_loses(a, b, n, bps):
    if a == b:
        return
    try:
        there = price(RATES, a, b, spread_bps=bps, sell_amount=n)
        back = price(RATES, b, a, spread_bps=bps, sell_amount=there.buy.amount)
    except InvalidRequest:  # too small to buy anything: nothing comes back at all
        return
    assert back.buy.amount <= n
    for q in (there, back):
        k = Fraction(10) ** (EXPONENTS[q.buy.currency] - EXPONENTS[q.sell.currency])
        assert q.fee.amount >= 0
        # What the exchange account keeps is worth at least what it paid out, at the mid rate.
        assert q.sell.amount - q.fee.amount >= q.buy.amount / (Fraction(q.mid) * k)
