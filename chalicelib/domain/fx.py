"""Exchange between currencies: reference rates and the arithmetic of a guaranteed quote.

Pure and exact (guarantee 18): rates are `Decimal`s parsed from the published strings, the
integer roundings go through `Fraction` (exact rationals), and no float is ever made. The rules,
the accounts they book to and why the house never loses to rounding: docs/exchange.md.

- Reference rates: the ECB's daily XML (`eurofxref-daily.xml`): units of each currency per 1
  EUR. Every pair is crossed through EUR: `mid(sell -> buy) = per_eur(buy) / per_eur(sell)`
  (units of buy per 1 unit of sell). A quotient that does not terminate within
  `MID_DIGITS` (20) significant digits is truncated (rounded toward zero) to 20: never in the
  customer's favour, and 20 >= the 16 the contract asks for.
- `rate = mid x (1 - spread_bps / 10000)`, exactly (no rounding: a product of two decimals).
- Selling `s` minor units: `buy = floor(s x rate x 10^(e_buy - e_sell))`, rounded DOWN to the
  buy currency's minor unit.
- Buying `b` minor units: `sell = ceil(b / (rate x 10^(e_buy - e_sell)))`, the smallest sell
  whose rounded-down buy covers `b`; the quote delivers exactly `b`.
- `fee` (sell currency) = `sell - ceil(buy / (mid x 10^(e_buy - e_sell)))`: what the customer
  pays beyond the mid-market price of what they receive (the spread plus the rounding), rounded
  DOWN so the fee shown never overstates it. It is >= 0 always, and what the exchange account
  keeps, `sell - fee`, is never less than the mid-market price of what it paid out.
"""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Context, Decimal, Inexact, localcontext
from fractions import Fraction

from chalicelib.domain.errors import DomainError, InvalidRequest
from chalicelib.domain.money import Money, currency_exponent

BASE = "EUR"
MID_DIGITS = 20  # significant digits a non-terminating cross rate is carried to (truncated)
MAX_AGE_SECONDS = 4 * 86400  # rates older than this (from the start of their day, UTC) refuse quotes
MAX_SPREAD_BPS = 1000  # 10%: anything above is a configuration mistake
MAX_FILE_BYTES = 256 * 1024  # the real file is ~1.5 KB
# The ledger's system accounts of exchange (docs/exchange.md): the per-currency position
# through which both legs pass, and the revenue the spread is booked to.
FX_ACCOUNT = "fx"
FX_REVENUE_ACCOUNT = "fx_revenue"
TRANSFER_TYPE = "exchange"

_RATE = re.compile(r"[0-9]{1,12}(\.[0-9]{1,12})?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NS = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"


class RatesUnavailable(DomainError):
    """No reference rates, or the latest are older than 4 days: no quote can be guaranteed."""

    code = "rates_unavailable"
    default_message = "Exchange rates are unavailable right now; try again later."


class SameCurrency(DomainError):
    """A quote from a currency into itself."""

    code = "same_currency"
    default_message = "The sell and buy currencies are the same."


class QuoteExpired(DomainError):
    """The quote's guarantee has ended: ask for a new one."""

    code = "quote_expired"
    default_message = "The quote has expired; ask for a new one."


class QuoteUsed(DomainError):
    """The quote was executed already (a quote executes once)."""

    code = "quote_used"
    default_message = "The quote has been used already."


class RatesFileError(ValueError):
    """The fetched document is not an ECB daily reference-rates file (the fetch changes nothing)."""


@dataclass(frozen=True)
class ReferenceRates:
    """One day's reference rates: units of each currency per 1 EUR (EUR itself not listed)."""

    as_of: str  # YYYY-MM-DD, the ECB's date
    rates: dict[str, Decimal]

    def per_eur(self, currency: str) -> Decimal:
        if currency == BASE:
            return Decimal(1)
        try:
            return self.rates[currency]
        except KeyError:
            raise RatesUnavailable(f"No reference rate for {currency}.") from None

    def mid(self, sell: str, buy: str) -> Decimal:
        return cross(self.per_eur(sell), self.per_eur(buy))

    def day_start(self) -> float:
        return datetime.combine(date.fromisoformat(self.as_of), datetime.min.time(), tzinfo=UTC).timestamp()

    def fresh_at(self, now: float) -> bool:
        return now - self.day_start() <= MAX_AGE_SECONDS

    def published(self) -> dict[str, str]:
        """The rates as the decimal strings they were published as."""
        return {c: format(r, "f") for c, r in sorted(self.rates.items())}


def parse_ecb_daily(data: bytes) -> ReferenceRates:
    """The ECB's `eurofxref-daily.xml`: `<Cube time="YYYY-MM-DD">` holding `<Cube currency=
    "USD" rate="1.0812"/>` items. Refused (RatesFileError) unless it is exactly that: one day,
    three-letter currencies once each, positive plain decimal rates (never parsed as float)."""
    if len(data) > MAX_FILE_BYTES:
        raise RatesFileError("the rates file is too large")
    # No document type: without one no entity can be declared, so no expansion bomb can
    # reach the parser (the standard library's parser would expand them).
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise RatesFileError("the rates file declares a document type")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise RatesFileError(f"the rates file is not XML: {exc}") from None
    days = [c for c in root.iter() if _local(c.tag) == "Cube" and c.get("time") is not None]
    if len(days) != 1:
        raise RatesFileError(f"expected one dated Cube, found {len(days)}")
    day = days[0].get("time", "")
    if not _DAY.fullmatch(day):
        raise RatesFileError(f"bad date {day!r}")
    try:
        date.fromisoformat(day)
    except ValueError:
        raise RatesFileError(f"bad date {day!r}") from None
    rates: dict[str, Decimal] = {}
    for cube in days[0]:
        currency, rate = cube.get("currency", ""), cube.get("rate", "")
        if _local(cube.tag) != "Cube" or not _CURRENCY.fullmatch(currency) or currency == BASE:
            raise RatesFileError(f"bad currency {currency!r}")
        if not _RATE.fullmatch(rate) or Decimal(rate) <= 0:
            raise RatesFileError(f"bad rate {rate!r} for {currency}")
        if currency in rates:
            raise RatesFileError(f"{currency} listed twice")
        rates[currency] = Decimal(rate)
    if not rates:
        raise RatesFileError("no rates in the file")
    return ReferenceRates(as_of=day, rates=rates)


def _local(tag: str) -> str:
    return tag[len(_NS):] if tag.startswith(_NS) else tag.rsplit("}", 1)[-1]


def cross(sell_per_eur: Decimal, buy_per_eur: Decimal) -> Decimal:
    """Units of buy per 1 unit of sell: `buy_per_eur / sell_per_eur`, exact when it terminates
    within MID_DIGITS significant digits, else truncated to them (decimal division is
    correctly rounded in its context, so ROUND_DOWN at 20 digits IS the truncation)."""
    with localcontext(Context(prec=MID_DIGITS, rounding=ROUND_DOWN)):
        return (buy_per_eur / sell_per_eur).normalize()


def customer_rate(mid: Decimal, spread_bps: int) -> Decimal:
    """`mid x (1 - spread)`, exactly: a product of two short decimals needs no rounding, and
    the Inexact trap proves it never gets one."""
    if not 0 <= spread_bps <= MAX_SPREAD_BPS:
        raise ValueError(f"spread must be 0..{MAX_SPREAD_BPS} bps")
    ctx = Context(prec=3 * MID_DIGITS, traps=[Inexact])
    with localcontext(ctx):
        return (mid * (1 - Decimal(spread_bps) / 10000)).normalize()


def _scale(sell: str, buy: str) -> Fraction:
    """Minor units of buy per major unit, over minor units of sell per major unit."""
    return Fraction(10) ** (currency_exponent(buy) - currency_exponent(sell))


def buy_for(sell: Money, buy_currency: str, rate: Decimal) -> Money:
    """What `sell` buys at `rate`, rounded DOWN to the buy currency's minor unit."""
    return Money(math.floor(sell.amount * Fraction(rate) * _scale(sell.currency, buy_currency)), buy_currency)


def sell_for(buy: Money, sell_currency: str, rate: Decimal) -> Money:
    """The smallest sell whose rounded-down buy at `rate` is at least `buy`: since `buy` is a
    whole number of minor units, floor(x) >= buy exactly when x >= buy, so it is the ceiling."""
    return Money(math.ceil(buy.amount / (Fraction(rate) * _scale(sell_currency, buy.currency))), sell_currency)


def fee_for(sell: Money, buy: Money, mid: Decimal) -> Money:
    """What the spread (and the rounding) cost, in the sell currency: the sell amount minus the
    smallest sell that buys `buy` at the mid rate (module docstring)."""
    at_mid = math.ceil(buy.amount / (Fraction(mid) * _scale(sell.currency, buy.currency)))
    return Money(sell.amount - at_mid, sell.currency)


@dataclass(frozen=True)
class Priced:
    """A quote's figures, before it is stored."""

    sell: Money
    buy: Money
    mid: Decimal
    rate: Decimal
    fee: Money


def price(rates: ReferenceRates, sell_currency: str, buy_currency: str, *, spread_bps: int,
          sell_amount: int | None = None, buy_amount: int | None = None) -> Priced:
    """The figures of a quote for exactly one of `sell_amount` / `buy_amount` (minor units)."""
    if sell_currency == buy_currency:
        raise SameCurrency()
    if (sell_amount is None) == (buy_amount is None):
        raise InvalidRequest("Give exactly one of sell_amount and buy_amount.")
    mid = rates.mid(sell_currency, buy_currency)
    rate = customer_rate(mid, spread_bps)
    if sell_amount is not None:
        sell = Money(sell_amount, sell_currency)
        buy = buy_for(sell, buy_currency, rate)
        if not buy.is_positive:
            raise InvalidRequest("The amount is too small to buy anything.", details=[
                {"field": "sell_amount", "message": f"buys less than one minor unit of {buy_currency}"}])
    else:
        assert buy_amount is not None
        buy = Money(buy_amount, buy_currency)
        sell = sell_for(buy, sell_currency, rate)
    return Priced(sell=sell, buy=buy, mid=mid, rate=rate, fee=fee_for(sell, buy, mid))


def decimal_text(d: Decimal) -> str:
    """A rate as a plain decimal string (never exponent notation)."""
    return format(d, "f")


@dataclass(frozen=True)
class Quote:
    """A stored quote: guaranteed until `expires_ms`, executed at most once (`status` open ->
    used, with the exchange or payment that used it)."""

    quote_id: str
    owner_id: str
    sell: Money
    buy: Money
    mid_rate: Decimal
    rate: Decimal
    fee: Money
    spread_bps: int
    rates_as_of: str
    created_ms: int
    expires_ms: int
    status: str = "open"
    used_by: str | None = None  # the transfer id that executed it

    def expired_at(self, now_ms: int) -> bool:
        return now_ms >= self.expires_ms


@dataclass(frozen=True)
class ExchangeBooking:
    """Everything one execution writes (docs/exchange.md), as ids and amounts; the store turns
    it into ONE transaction with the quote's `open -> used` and the caller's companions.

    Transfers, each balanced in its own currency: `sell_id` payer wallet -> the sell currency's
    exchange account (the whole sell); `fee_id` that exchange account -> revenue (the fee,
    only when > 0); `buy_id` the buy currency's exchange account -> beneficiary wallet (the
    buy). So every currency still sums to zero."""

    quote: Quote
    payer: str
    payer_wallet: str
    beneficiary: str
    beneficiary_wallet: str
    beneficiary_shards: int
    sell_id: str
    fee_id: str
    buy_id: str
    leg_type: str  # "exchange" between one's own wallets, "transfer" for a payment
    fx_sell_account: str  # shard ids chosen by the store
    fx_buy_account: str
    revenue_account: str
