"""Exchange between currencies at a guaranteed rate: rates, quotes, exchanges (docs/exchange.md)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from chalice import Blueprint
from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from chalicelib.api.routing import Call, Reply, replayable, route
from chalicelib.api.schemas import Body, Schema, limit_per_currency
from chalicelib.api.wallets import Currency, MoneyOut, absent, not_null
from chalicelib.container import get_container

if TYPE_CHECKING:  # the use cases' types; their modules wait for the first request (cold start)
    from chalicelib.domain.commands import AskQuote, ExchangeCurrency
    from chalicelib.domain.results import QuoteView, RatesRefreshed, RatesView

bp = Blueprint(__name__)

# Integer minor units; the per-transfer maximum (400) applies to the sell, this bound only keeps
# absurd integers out of the arithmetic.
FxAmount = Annotated[int, Field(strict=True, gt=0, le=10**18, description="Integer minor units")]
Id = Annotated[str, Field(min_length=1, max_length=100)]
DecimalText = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?$", description="An exact decimal, as a string")]


class RatesOut(Schema):
    base: Literal["EUR"]
    as_of: str = Field(description="YYYY-MM-DD: the day the reference rates were published")
    rates: dict[str, DecimalText] = Field(description="Units of each currency per 1 EUR, as published")


def _quote_rules(schema: dict[str, Any]) -> None:
    from chalicelib.config import get_settings

    # Exactly one of sell_amount and buy_amount; a sell at most the per-transfer maximum of its
    # currency; two different currencies (the same one is 422 same_currency).
    schema["oneOf"] = [
        {"required": ["sell_amount"], "not": {"required": ["buy_amount"]}},
        {"required": ["buy_amount"], "not": {"required": ["sell_amount"]}}]
    schema["allOf"] = limit_per_currency("sell_amount", "sell_currency")
    schema["not"] = {"anyOf": [{"properties": {"sell_currency": {"const": c}, "buy_currency": {"const": c}}}
                               for c in get_settings().currencies]}


class QuoteIn(Body):
    model_config = ConfigDict(json_schema_extra=_quote_rules)

    sell_currency: Currency
    buy_currency: Currency
    # Absent, not null (as TransferIn's amount): exactly what the document's oneOf says.
    sell_amount: FxAmount | SkipJsonSchema[None] = absent()
    buy_amount: FxAmount | SkipJsonSchema[None] = absent()
    _no_nulls = field_validator("sell_amount", "buy_amount", mode="before")(not_null)

    @model_validator(mode="after")
    def exactly_one_amount(self) -> QuoteIn:
        if (self.sell_amount is None) == (self.buy_amount is None):
            raise ValueError("give exactly one of sell_amount and buy_amount")
        return self

    def command(self) -> AskQuote:
        from chalicelib.domain.commands import AskQuote

        return AskQuote(self.sell_currency, self.buy_currency, self.sell_amount, self.buy_amount)


class QuoteOut(Schema):
    quote_id: str
    sell: MoneyOut
    buy: MoneyOut
    mid_rate: DecimalText = Field(description="The reference cross rate: units of buy per 1 unit of sell")
    rate: DecimalText = Field(description="mid_rate x (1 - spread): the rate this quote guarantees")
    fee: MoneyOut = Field(description="What the spread costs, in the sell currency")
    expires_at: str = Field(description="The rate is guaranteed until then (at least 30 s after created_at)")
    created_at: str


class ExchangeIn(Body):
    quote_id: Id
    from_wallet_id: Id
    to_wallet_id: Annotated[Id | None, Field(description=(
        "One of the caller's wallets in the buy currency; default: the caller's default wallet of that "
        "currency (opened if absent)"))] = None

    def command(self) -> ExchangeCurrency:
        from chalicelib.domain.commands import ExchangeCurrency

        return ExchangeCurrency(self.quote_id, self.from_wallet_id, self.to_wallet_id)


class ExchangeOut(Schema):
    exchange_id: str
    quote_id: str
    from_wallet_id: str
    to_wallet_id: str
    sell: MoneyOut
    buy: MoneyOut
    rate: DecimalText
    fee: MoneyOut
    status: Literal["posted"]
    created_at: str


@route(bp, "/fx/rates", "GET", summary="The reference exchange rates (ECB, per 1 EUR)", response=RatesOut,
       errors=("rates_unavailable",), tags=("exchange",))
def rates(call: Call) -> RatesView:
    return get_container().exchanges.rates()


@route(bp, "/fx/quotes", "POST", summary="A quote at a rate guaranteed until its expiry", body=QuoteIn,
       response=QuoteOut, status=201, errors=("same_currency", "rates_unavailable"), tags=("exchange",))
def create_quote(call: Call) -> QuoteView:
    return get_container().exchanges.quote(call.user_id, call.body.command())


@route(bp, "/fx/exchanges", "POST", summary="Execute a quote between two of the caller's wallets", body=ExchangeIn,
       response=ExchangeOut, status=201, headers=("Idempotency-Key",),
       errors=("idempotency_key_required", "idempotency_key_reused", "not_found", "quote_expired", "quote_used",
               "currency_mismatch", "insufficient_funds", "account_frozen", "limit_exceeded", "recipient_not_found"),
       tags=("exchange",))
def create_exchange(call: Call) -> Reply:
    outcome = get_container().exchanges.exchange(call.user_id, call.headers.get("idempotency-key"),
                                                 call.body.command())
    return replayable(outcome, "ExchangePosted")


def fetch_rates() -> RatesRefreshed:
    """The scheduled function's body: the published file into the rates table."""
    from chalicelib import observability
    from chalicelib.services.exchange import refresh_rates

    c = get_container()
    done = refresh_rates(c.fx_store, c.fetch_fx_rates)
    observability.flush()
    return done
