"""Reference rates, quotes and the exchange's ONE transaction on DynamoDB (docs/exchange.md).

An execution writes, in one TransactWriteItems (built from the ledger's own items, so the
conditions are the ones every transfer has):
- the payer's wallet: `balance/available -= sell`, on `active AND currency AND available >= sell`;
- the sell currency's exchange account shard: `+= sell - fee`; revenue's shard: `+= fee`;
- the buy currency's exchange account shard: `-= buy`; the receiving wallet: `+= buy`;
- the transfers (sell leg, fee, buy leg: each balanced in its currency) and their six legs;
- the quote `open -> used` on `status = open AND owner AND expires_ms > now` (exactly once);
- the payer not frozen, the key's record, the day's total of the sell currency.
Each item appears once (DynamoDB refuses two operations on one item): the exchange account of
the sell currency gets the NET of its two legs (`sell` in, `fee` out), its two entries apart.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from chalicelib.adapters.dynamodb.ledger import DynamoLedger, _n, _s
from chalicelib.adapters.dynamodb.models import FxQuoteRecord, FxRatesRecord, written
from chalicelib.adapters.dynamodb.tables import table_name
from chalicelib.config import Settings
from chalicelib.domain.errors import NotFound
from chalicelib.domain.fx import TRANSFER_TYPE, ExchangeBooking, Quote, QuoteExpired, QuoteUsed, ReferenceRates
from chalicelib.domain.ledger import CurrencyMismatch, DailyLimit, IdempotencyPut, Movement, RecipientNotFound
from chalicelib.domain.money import Money
from chalicelib.domain.wallet import SYSTEM_OWNER

LATEST = "latest"


def _quote(r: FxQuoteRecord) -> Quote:
    return Quote(quote_id=r.quote_id, owner_id=r.owner_id, sell=Money(int(r.sell_amount), r.sell_currency),
                 buy=Money(int(r.buy_amount), r.buy_currency), mid_rate=Decimal(r.mid_rate), rate=Decimal(r.rate),
                 fee=Money(int(r.fee_amount), r.sell_currency), spread_bps=int(r.spread_bps),
                 rates_as_of=r.rates_as_of, created_ms=int(r.created_ms), expires_ms=int(r.expires_ms),
                 status=r.status, used_by=r.used_by)


def _rates(r: FxRatesRecord) -> ReferenceRates:
    # Strings in, Decimals out: json never sees a number here (the values are strings).
    stored = json.loads(r.rates)
    return ReferenceRates(as_of=r.as_of, rates={str(c): Decimal(str(v)) for c, v in stored.items()})


class DynamoFx:
    def __init__(self, settings: Settings, ledger: DynamoLedger) -> None:
        self._ledger = ledger
        self._quotes = table_name(settings, FxQuoteRecord)

    # -- rates ----------------------------------------------------------------------------------
    def latest_rates(self) -> ReferenceRates | None:
        r = FxRatesRecord.find(LATEST)
        return _rates(r) if r else None

    def save_rates(self, rates: ReferenceRates, fetched_at: str) -> bool:
        text = json.dumps(rates.published(), sort_keys=True)
        FxRatesRecord(f"day#{rates.as_of}", as_of=rates.as_of, rates=text, fetched_at=fetched_at).save()
        # The latest only moves forward: a late retry of an older fetch never replaces it.
        latest = FxRatesRecord(LATEST, as_of=rates.as_of, rates=text, fetched_at=fetched_at)
        return written(lambda: latest.save(condition=FxRatesRecord.rates_id.does_not_exist()
                                           | (FxRatesRecord.as_of <= rates.as_of)))

    # -- quotes ---------------------------------------------------------------------------------
    def put_quote(self, q: Quote, purge_at: int) -> None:
        FxQuoteRecord(q.quote_id, owner_id=q.owner_id, sell_amount=q.sell.amount, sell_currency=q.sell.currency,
                      buy_amount=q.buy.amount, buy_currency=q.buy.currency, mid_rate=format(q.mid_rate, "f"),
                      rate=format(q.rate, "f"), fee_amount=q.fee.amount, spread_bps=q.spread_bps,
                      rates_as_of=q.rates_as_of, created_ms=q.created_ms, expires_ms=q.expires_ms, status="open",
                      purge_at=purge_at).save(condition=FxQuoteRecord.quote_id.does_not_exist())

    def get_quote(self, quote_id: str) -> Quote | None:
        r = FxQuoteRecord.find(quote_id)
        return _quote(r) if r else None

    def system_shard(self, account: str, currency: str) -> str:
        return self._ledger.system_shard(account, currency)

    # -- execution ------------------------------------------------------------------------------
    def book(self, b: ExchangeBooking, *, now: str, now_ms: int, idempotency: IdempotencyPut, daily: DailyLimit,
             request_hash: str, memo_sell_ct: str | None = None, memo_buy_ct: str | None = None) -> None:
        L, q = self._ledger, b.quote
        sell, fee, buy = q.sell, q.fee, q.buy
        sell_leg = Movement(b.sell_id, b.leg_type, b.payer_wallet, b.fx_sell_account, sell, b.payer, b.beneficiary)
        buy_leg = Movement(b.buy_id, b.leg_type, b.fx_buy_account, b.beneficiary_wallet, buy, b.payer, b.beneficiary,
                           to_credit_shards=b.beneficiary_shards)
        items = [L._debit(b.payer_wallet, sell.amount, sell.currency, now),
                 L._system_update(b.fx_sell_account, sell.amount - fee.amount, sell.currency, now),
                 L._system_update(b.fx_buy_account, -buy.amount, buy.currency, now),
                 credit := L._credit(b.beneficiary_wallet, buy.amount, buy.currency, now, b.beneficiary_shards)]
        roles = ["debit", "fx", "fx", "beneficiary"]
        legs = [(sell_leg, memo_sell_ct), (buy_leg, memo_buy_ct)]
        if fee.is_positive:
            items.append(L._system_update(b.revenue_account, fee.amount, sell.currency, now))
            roles.append("fx")
            legs.append((Movement(b.fee_id, TRANSFER_TYPE, b.fx_sell_account, b.revenue_account, fee, SYSTEM_OWNER,
                                  SYSTEM_OWNER), None))
        for m, memo_ct in legs:
            debit_sk, credit_sk = L._sk(now_ms, m.transfer_id, "d"), L._sk(now_ms, m.transfer_id, "c")
            put = L._transfer_put(m, "posted", now, memo_ct, request_hash if m is sell_leg else None, debit_sk)
            put["Put"]["Item"]["quote_id"] = _s(q.quote_id)
            if m is sell_leg:  # the payment as its payer and recipient see it (GET /transfers/{id})
                put["Put"]["Item"].update({"delivered_to": _s(b.beneficiary_wallet), "delivered_amount": _n(buy.amount),
                                           "delivered_currency": _s(buy.currency)})
            items += [put, L._entry_put(m.from_wallet, debit_sk, m, "debit", "posted", m.to_wallet, m.from_owner, now,
                                        memo_ct),
                      L._entry_put(m.to_wallet, credit_sk, m, "credit", "posted", m.from_wallet, m.to_owner, now,
                                   memo_ct, landed=credit if m is buy_leg else None)]
            roles += ["transfer", "entry", "entry"]
        items += [self._use_quote(q, b.sell_id, now_ms), L._not_frozen(b.payer), L._idempotency_put(idempotency, now),
                  L._daily_update(daily, sell.amount)]
        roles += ["quote", "account", "idempotency", "daily"]
        L._transact(items, roles, sell_leg, explain=lambda olds: self._explain(olds, b, now_ms))

    def _use_quote(self, q: Quote, transfer_id: str, now_ms: int) -> dict[str, Any]:
        """open -> used, once, by its owner, within its guarantee; a used quote's record stays
        (its TTL attribute goes)."""
        return {"Update": {
            "TableName": self._quotes, "Key": {"quote_id": _s(q.quote_id)},
            "UpdateExpression": "SET #st = :used, used_by = :by, used_ms = :now REMOVE purge_at",
            "ConditionExpression": "#st = :open AND owner_id = :owner AND expires_ms > :now",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": {":used": _s("used"), ":open": _s("open"), ":by": _s(transfer_id),
                                          ":owner": _s(q.owner_id), ":now": _n(now_ms)}}}

    @staticmethod
    def _explain(olds: dict[str, Any], b: ExchangeBooking, now_ms: int) -> None:
        """What a refused execution means, from the failed items themselves (ALL_OLD). A racing
        retry of the same key (its record or transfer exists) is left to the ledger: a replay."""
        if "idempotency" in olds or "transfer" in olds:
            return
        if "quote" in olds:
            item = olds["quote"] or {}
            if not item:
                raise NotFound("The quote was not found.")
            if item.get("status", {}).get("S") != "open":
                raise QuoteUsed()
            raise QuoteExpired()
        if "beneficiary" in olds and not {"debit", "account", "daily"} & set(olds):
            item = olds["beneficiary"] or {}
            if item.get("currency", {}).get("S") not in (None, b.quote.buy.currency):
                raise CurrencyMismatch()
            raise RecipientNotFound()
