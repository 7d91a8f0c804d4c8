"""Exchange between currencies at a guaranteed rate: rates, quotes, exchanges, and payments
delivered in another currency (docs/exchange.md).

A quote fixes the figures (domain.fx) for its guarantee; executing it is ONE transaction
(`FxStore.book`): the payer's debit, the credit of the wallet that receives, the per-currency
exchange accounts, the fee to revenue, the transfers and their legs, the quote's `open -> used`,
the not-frozen check, the key's record and the daily total (of the sell amount). A refusal
rolls all of it back, so the quote stays usable; of many executions racing, the quote's
condition lets exactly one through.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from chalicelib.domain.commands import AskQuote, ExchangeCurrency, SendTransfer
from chalicelib.domain.errors import InvalidRequest, NotFound
from chalicelib.domain.fx import (
    BASE,
    FX_ACCOUNT,
    FX_REVENUE_ACCOUNT,
    TRANSFER_TYPE,
    ExchangeBooking,
    Quote,
    QuoteExpired,
    QuoteUsed,
    RatesUnavailable,
    ReferenceRates,
    SameCurrency,
    decimal_text,
    parse_ecb_daily,
    price,
)
from chalicelib.domain.ids import new_id, rfc3339
from chalicelib.domain.invitation import Invitee
from chalicelib.domain.ledger import (
    CurrencyMismatch,
    DailyLimit,
    DuplicateRequest,
    IdempotencyPut,
    RecipientNotFound,
    check_idempotency_key,
    deterministic_id,
    keyed_id,
)
from chalicelib.domain.money import Money
from chalicelib.domain.results import (
    ExchangeView,
    MoneyView,
    QuoteView,
    RatesRefreshed,
    RatesView,
    TransferView,
)
from chalicelib.domain.wallet import PaymentReads, Wallet
from chalicelib.services.ledger import Ledger, idempotency_record_key
from chalicelib.services.replay import Outcome

QUOTE_PURGE_SECONDS = 86400  # an unused quote is deleted (TTL) a day after it expired


class FxStore(Protocol):
    """Reference rates, quotes, and the one transaction of an execution."""

    def latest_rates(self) -> ReferenceRates | None: ...

    def save_rates(self, rates: ReferenceRates, fetched_at: str) -> bool:
        """Store a day's rates; True if they became the latest (never replaced by older ones)."""

    def put_quote(self, quote: Quote, purge_at: int) -> None: ...

    def get_quote(self, quote_id: str) -> Quote | None: ...

    def system_shard(self, account: str, currency: str) -> str: ...

    def book(self, b: ExchangeBooking, *, now: str, now_ms: int, idempotency: IdempotencyPut, daily: DailyLimit,
             request_hash: str, memo_sell_ct: str | None = None, memo_buy_ct: str | None = None) -> None:
        """Execute `b` in ONE transaction; QuoteUsed / QuoteExpired / InsufficientFunds /
        LimitExceeded / AccountFrozen... when a condition refuses it (nothing written),
        DuplicateRequest when the key's record or the transfer exists (a racing retry)."""


def refresh_rates(fx: FxStore, fetch: Callable[[], bytes], now: Callable[[], float] = time.time) -> RatesRefreshed:
    """The scheduled fetch: the published file, parsed, stored if newer than what is stored
    (needs the rates table only: no key, no ledger)."""
    rates = parse_ecb_daily(fetch())
    stored = fx.save_rates(rates, rfc3339(now()))
    return {"as_of": rates.as_of, "currencies": len(rates.rates), "stored": stored}


@dataclass(frozen=True)
class ExchangePolicy:
    spread_bps: int = 50
    quote_seconds: int = 30  # the guarantee (the contract: at least 30 s)


def money_view(m: Money) -> MoneyView:
    return {"amount": m.amount, "currency": m.currency}


def quote_view(q: Quote) -> QuoteView:
    return {"quote_id": q.quote_id, "sell": money_view(q.sell), "buy": money_view(q.buy),
            "mid_rate": decimal_text(q.mid_rate), "rate": decimal_text(q.rate), "fee": money_view(q.fee),
            "expires_at": rfc3339(q.expires_ms / 1000), "created_at": rfc3339(q.created_ms / 1000)}


@dataclass
class Exchanges:
    ledger: Ledger
    fx: FxStore
    policy: ExchangePolicy
    now: Callable[[], float] = time.time

    # -- rates ----------------------------------------------------------------------------------
    def rates(self) -> RatesView:
        """GET /fx/rates: the reference rates as published (even stale ones: `as_of` says so)."""
        rates = self.fx.latest_rates()
        if rates is None:
            raise RatesUnavailable()
        return {"base": BASE, "as_of": rates.as_of, "rates": rates.published()}

    def _fresh_rates(self) -> ReferenceRates:
        rates = self.fx.latest_rates()
        if rates is None or not rates.fresh_at(self.now()):
            raise RatesUnavailable()
        return rates

    # -- quotes ---------------------------------------------------------------------------------
    def quote(self, user_id: str, request: AskQuote) -> QuoteView:
        sell_ccy, buy_ccy = request.sell_currency, request.buy_currency
        for field, currency in (("sell_currency", sell_ccy), ("buy_currency", buy_ccy)):
            if currency not in self.ledger.policy.currencies:
                raise InvalidRequest("This currency is not supported.", details=[
                    {"field": field, "message": f"must be one of {', '.join(self.ledger.policy.currencies)}"}])
        if sell_ccy == buy_ccy:  # before the rates: the request is wrong whatever they are
            raise SameCurrency()
        rates = self._fresh_rates()
        priced = price(rates, sell_ccy, buy_ccy, spread_bps=self.policy.spread_bps,
                       sell_amount=request.sell_amount, buy_amount=request.buy_amount)
        # The per-transfer maximum bounds what leaves the wallet (the sell), as the daily limit
        # counts it; the buy follows from it.
        try:
            self.ledger.check_maximum(priced.sell)
        except InvalidRequest as err:  # named after the field the caller sent
            field = "sell_amount" if request.sell_amount is not None else "buy_amount"
            raise InvalidRequest(err.message, details=[
                {"field": field, "message": f"the sell is {err.details[0]['message']}"}]) from None
        now_ms = int(self.now() * 1000)
        q = Quote(quote_id=new_id("qt"), owner_id=user_id, sell=priced.sell, buy=priced.buy, mid_rate=priced.mid,
                  rate=priced.rate, fee=priced.fee, spread_bps=self.policy.spread_bps,
                  rates_as_of=rates.as_of, created_ms=now_ms,
                  expires_ms=now_ms + self.policy.quote_seconds * 1000)
        self.fx.put_quote(q, purge_at=q.expires_ms // 1000 + QUOTE_PURGE_SECONDS)
        return quote_view(q)

    def _usable(self, user_id: str, quote_id: str, sell_id: str) -> Quote:
        """The caller's quote, still open and guaranteed (the transaction re-checks both).
        Used by `sell_id` itself: a concurrent request with this very key executed it, and its
        answer is the replay (DuplicateRequest), not quote_used."""
        q = self.fx.get_quote(quote_id)
        if q is None or q.owner_id != user_id:
            raise NotFound("The quote was not found.")  # someone else's is "not found" too
        if q.status != "open":
            if q.used_by == sell_id:
                raise DuplicateRequest()
            raise QuoteUsed()
        if q.expired_at(int(self.now() * 1000)):
            raise QuoteExpired()
        return q

    # -- exchanges between one's own wallets ----------------------------------------------------
    def exchange(self, user_id: str, idempotency_key: str | None,
                 request: ExchangeCurrency) -> Outcome[ExchangeView]:
        """POST /fx/exchanges: once per key; the same key again answers what the first did."""
        key = check_idempotency_key(idempotency_key)
        idem_key = idempotency_record_key(user_id, "fx_exchanges", key)
        req_hash = self.ledger.request_hash("fx_exchanges", request.as_request())
        return self.ledger.replay_or(idem_key, req_hash, user_id,
                                     lambda: self._exchange(user_id, key, idem_key, req_hash, request))

    def _exchange(self, user_id: str, key: str, idem_key: str, req_hash: str,
                  request: ExchangeCurrency) -> Outcome[ExchangeView]:
        exchange_id = keyed_id("ex", user_id, "fx_exchanges", key)
        q = self._usable(user_id, request.quote_id, exchange_id)
        source = self.ledger.wallet(user_id, request.from_wallet_id)
        if source.currency != q.sell.currency:
            raise CurrencyMismatch("The wallet's currency is not the quote's sell currency.")
        if request.to_wallet_id:
            target = self.ledger.wallet(user_id, request.to_wallet_id)
            if target.currency != q.buy.currency:
                raise CurrencyMismatch("The wallet's currency is not the quote's buy currency.")
            to_wallet, shards = target.wallet_id, target.credit_shards
        else:
            to_wallet, shards = self.ledger.default_wallet(user_id, q.buy.currency), 0
        now = self.now()
        body: ExchangeView = {"exchange_id": exchange_id, "quote_id": q.quote_id, "from_wallet_id": source.wallet_id,
                "to_wallet_id": to_wallet, "sell": money_view(q.sell), "buy": money_view(q.buy),
                "rate": decimal_text(q.rate), "fee": money_view(q.fee), "status": "posted",
                "created_at": rfc3339(now)}
        self._book(q, source, (to_wallet, user_id, shards), exchange_id, TRANSFER_TYPE, body,
                   (idem_key, req_hash, user_id), now)
        return Outcome(body)

    # -- payments delivered in another currency -------------------------------------------------
    def pay(self, user_id: str, key: str, idem_key: str, req_hash: str, request: SendTransfer,
            reads: PaymentReads, invitee: Invitee | None) -> Outcome[TransferView]:
        """POST /transfers with `quote_id` (called by Ledger.transfer once the key's record is
        known to be absent): every transfer rule, then the quote's legs in one transaction,
        delivered to the recipient's wallet in the buy currency."""
        if invitee is not None and request.invite:
            raise InvalidRequest("A payment with a quote goes to someone on the wallet: it cannot be an invitation.",
                                 details=[{"field": "to.invite", "message": "not with quote_id"}])
        transfer_id = deterministic_id("tr", user_id, key)  # as every /transfers payment's
        if request.quote_id is None:
            raise ValueError("Ledger.transfer hands over payments with a quote only")
        q = self._usable(user_id, request.quote_id, transfer_id)
        self.ledger.check_maximum(q.sell)
        source = Ledger._own(user_id, reads.source)
        if source.currency != q.sell.currency:
            raise CurrencyMismatch("The wallet's currency is not the quote's sell currency.")
        if invitee is not None:
            self.ledger.screen_lookup(user_id, invitee.contact_key, reads.contact_owner)
            if reads.contact_owner is None:
                raise RecipientNotFound()
            owner = reads.contact_owner
            to_wallet, shards = self.ledger.default_wallet(owner, q.buy.currency), 0
        else:
            to_wallet, owner = Ledger._payable(reads.recipient, q.buy.currency)
            shards = reads.recipient.credit_shards if reads.recipient else 0
        now = self.now()
        memo = request.memo
        body: TransferView = {
            "transfer_id": transfer_id, "type": "transfer", "status": "posted", "from_wallet_id": source.wallet_id,
            "to_wallet_id": to_wallet, "amount": q.sell.amount, "currency": q.sell.currency, "memo": memo or None,
            "created_at": rfc3339(now), "delivered": money_view(q.buy)}
        self._book(q, source, (to_wallet, owner, shards), transfer_id, "transfer", body, (idem_key, req_hash, user_id),
                   now, memo)
        return Outcome(body)

    def _book(self, q: Quote, source: Wallet, to: tuple[str, str, int], sell_id: str, leg_type: str,
              body: Mapping[str, object], idem: tuple[str, str, str], now: float, memo: str | None = None) -> None:
        idem_key, req_hash, user_id = idem
        fee_id, buy_id = deterministic_id("xf", sell_id), deterministic_id("xb", sell_id)
        booking = ExchangeBooking(
            quote=q, payer=user_id, payer_wallet=source.wallet_id, beneficiary=to[1], beneficiary_wallet=to[0],
            beneficiary_shards=to[2], sell_id=sell_id, fee_id=fee_id, buy_id=buy_id, leg_type=leg_type,
            fx_sell_account=self.fx.system_shard(FX_ACCOUNT, q.sell.currency),
            fx_buy_account=self.fx.system_shard(FX_ACCOUNT, q.buy.currency),
            revenue_account=self.fx.system_shard(FX_REVENUE_ACCOUNT, q.sell.currency))
        cipher = self.ledger.cipher
        self.fx.book(booking, now=rfc3339(now), now_ms=int(now * 1000), request_hash=req_hash,
                     idempotency=self.ledger.kept_answer(idem_key, req_hash, user_id, body, now, sell_id),
                     daily=self.ledger.daily_limit(user_id, q.sell, now),
                     memo_sell_ct=cipher.encrypt(memo, sell_id, "memo") if memo else None,
                     memo_buy_ct=cipher.encrypt(memo, buy_id, "memo") if memo else None)
