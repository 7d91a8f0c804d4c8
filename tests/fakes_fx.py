"""An in-memory FxStore over the fake ledger (tests/fakes_money.py): every condition of the
exchange's transaction first, then every change, as `adapters.dynamodb.fx` does in one
TransactWriteItems (docs/exchange.md)."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.domain.errors import NotFound
from chalicelib.domain.fx import TRANSFER_TYPE, ExchangeBooking, Quote, QuoteExpired, QuoteUsed, ReferenceRates
from chalicelib.domain.ledger import DailyLimit, DuplicateRequest, IdempotencyPut, Movement
from chalicelib.domain.wallet import SYSTEM_OWNER
from tests.fakes_money import FakeLedgerStore


class FakeFx:
    def __init__(self, ledger: FakeLedgerStore) -> None:
        self.ledger = ledger
        self.rates: ReferenceRates | None = None
        self.quotes: dict[str, Quote] = {}

    def latest_rates(self) -> ReferenceRates | None:
        return self.rates

    def save_rates(self, rates: ReferenceRates, fetched_at: str) -> bool:
        if self.rates is not None and self.rates.as_of > rates.as_of:
            return False
        self.rates = rates
        return True

    def put_quote(self, quote: Quote, purge_at: int) -> None:
        assert quote.quote_id not in self.quotes
        self.quotes[quote.quote_id] = quote

    def get_quote(self, quote_id: str) -> Quote | None:
        return self.quotes.get(quote_id)

    def system_shard(self, account: str, currency: str) -> str:
        return self.ledger.system_shard(account, currency)

    def book(self, b: ExchangeBooking, *, now: str, now_ms: int, idempotency: IdempotencyPut, daily: DailyLimit,
             request_hash: str, memo_sell_ct: str | None = None, memo_buy_ct: str | None = None) -> None:
        q, store = b.quote, self.ledger
        sell = Movement(b.sell_id, b.leg_type, b.payer_wallet, b.fx_sell_account, q.sell, b.payer, b.beneficiary)
        buy = Movement(b.buy_id, b.leg_type, b.fx_buy_account, b.beneficiary_wallet, q.buy, b.payer, b.beneficiary)
        fee = (Movement(b.fee_id, TRANSFER_TYPE, b.fx_sell_account, b.revenue_account, q.fee, SYSTEM_OWNER,
                        SYSTEM_OWNER) if q.fee.is_positive else None)
        # The conditions, in the order the DynamoDB adapter reads its cancellation reasons.
        if sell.transfer_id in store.b.transfers or idempotency.key in store.b.idempotency:
            raise DuplicateRequest()
        stored = self.quotes.get(q.quote_id)
        if stored is None or stored.owner_id != q.owner_id:
            raise NotFound("The quote was not found.")
        if stored.status != "open":
            raise QuoteUsed()
        if stored.expired_at(now_ms):
            raise QuoteExpired()
        store._check(sell, idempotency, daily, None, hold=False)
        store._check(buy, None, None, None, hold=False)  # the receiving wallet: active, the buy currency
        # The changes, all of them.
        store._write(sell, "posted", now, idempotency, daily, None)
        for m in (fee, buy):
            if m is not None:
                store._write(m, "posted", now, None, None, None)
        self.quotes[q.quote_id] = replace(stored, status="used", used_by=b.sell_id)

    def used(self) -> dict[str, Any]:
        return {qid: q.used_by for qid, q in self.quotes.items() if q.status == "used"}
