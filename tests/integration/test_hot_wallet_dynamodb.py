"""A high-volume wallet on DynamoDB Local: credits spread over shard items, reads sum them,
debits stay on one item (no overdraft) and fold the shards in when short."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.adapters.dynamodb.models import WalletRecord
from chalicelib.domain.errors import InvalidRequest, NotFound
from chalicelib.domain.ledger import InsufficientFunds, RecipientNotFound
from chalicelib.domain.wallet import credit_shard_id
from chalicelib.services.reconcile import reconcile
from tests.integration.test_ledger_dynamodb import fund, pay, person


@pytest.fixture
def ledger(stack_container):
    return stack_container.ledger


def test_concurrent_payers_spread_over_shards_and_the_balance_sums_them(stack_container, ledger):
    merchant, _, shop = person(stack_container, derived=True)
    ledger.spread_credits(shop, 4)
    payers = [person(stack_container, derived=True) for _ in range(8)]
    for _, _, w in payers:
        fund(ledger, w, 1000)

    def pay_five(payer: tuple[str, str, str]) -> None:
        for _ in range(5):
            pay(ledger, payer[0], payer[2], {"wallet_id": shop}, 7)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(pay_five, payers))
    read = ledger.wallet(merchant, shop)
    assert (read.balance, read.available, read.held, read.credit_shards) == (280, 280, 0, 4)
    assert [w.wallet_id for w in ledger.wallets(merchant)] == [shop]  # shards are not wallets
    main = WalletRecord.get(shop, consistent_read=True)
    shards = [WalletRecord.get(credit_shard_id(shop, k), consistent_read=True) for k in range(4)]
    assert int(main.balance) == 0 and sum(int(s.balance) for s in shards) == 280
    assert sum(int(s.balance) > 0 for s in shards) >= 2  # spread, not one hot item
    entries, _ = ledger.statement(merchant, shop, 100, None)
    assert len(entries) == 40 and sum(e["amount"] for e in entries) == 280


def test_a_debit_folds_the_shards_in_and_never_overdraws(stack_container, ledger):
    merchant, _, shop = person(stack_container, derived=True)
    ledger.spread_credits(shop, 3)
    payer, _, wp = person(stack_container, derived=True)
    _, _, supplier = person(stack_container, derived=True)
    fund(ledger, wp, 1000)
    for _ in range(6):
        pay(ledger, payer, wp, {"wallet_id": shop}, 50)
    assert int(WalletRecord.get(shop, consistent_read=True).available) == 0  # all 300 on shards
    pay(ledger, merchant, shop, {"wallet_id": supplier}, 120)  # short on the main item: swept
    assert _raw(shop, 3)[1:] == [0, 0, 0] and _raw(shop, 3)[0] == 180
    with pytest.raises(InsufficientFunds):
        pay(ledger, merchant, shop, {"wallet_id": supplier}, 181)
    # Racing spenders ask for 7 x 40 = 280 while payers bring 7 x 10: 180 + 70 lets at most 6 go.
    with ThreadPoolExecutor(7) as pool:
        outcomes = list(pool.map(lambda i: _try(lambda: pay(ledger, merchant, shop, {"wallet_id": supplier}, 40)
                                               if i % 2 else pay(ledger, payer, wp, {"wallet_id": shop}, 10)),
                                 range(14)))
    spent = 40 * sum(ok for i, ok in enumerate(outcomes) if i % 2)
    received = 10 * sum(ok for i, ok in enumerate(outcomes) if not i % 2)
    assert received == 70 and spent <= 240
    assert ledger.wallet(merchant, shop).balance == 180 + received - spent
    assert all(v >= 0 for v in _raw(shop, 3))  # no item overdrawn, not just the sum
    assert ledger.store.get_wallet(supplier).balance == 120 + spent
    assert reconcile(stack_container.ledger_store).ok


def test_a_spread_wallet_pays_by_e_mail_into_a_default_opened_before_ids_were_derived(stack_container, ledger):
    """The payer's main item is empty (its money is on shards) and the recipient's default has a
    random id: the first transaction fails on both, the sweep and the pointer mend both."""
    merchant, _, shop = person(stack_container, derived=True)
    ledger.spread_credits(shop, 2)
    payer, _, wp = person(stack_container, derived=True)
    _, customer_email, legacy = person(stack_container)  # a random-id default
    fund(ledger, wp, 500)
    pay(ledger, payer, wp, {"wallet_id": shop}, 300)
    out = pay(ledger, merchant, shop, {"email": customer_email}, 100)
    assert out.body["to_wallet_id"] == legacy and ledger.store.get_wallet(legacy).balance == 100
    assert ledger.wallet(merchant, shop).balance == 200


def _raw(wallet_id: str, shards: int) -> list[int]:
    """`available` of the wallet item, then of each shard, as stored."""
    return [int(WalletRecord.get(k, consistent_read=True).available)
            for k in [wallet_id] + [credit_shard_id(wallet_id, i) for i in range(shards)]]


def _try(call) -> bool:
    try:
        call()
        return True
    except InsufficientFunds:
        return False


def test_shards_are_nobody_s_wallet(stack_container, ledger):
    merchant, _, shop = person(stack_container, derived=True)
    ledger.spread_credits(shop, 2)
    payer, _, wp = person(stack_container, derived=True)
    fund(ledger, wp, 100)
    shard = credit_shard_id(shop, 0)
    with pytest.raises(RecipientNotFound):
        pay(ledger, payer, wp, {"wallet_id": shard}, 1)
    with pytest.raises(NotFound):
        ledger.wallet(merchant, shard)
    with pytest.raises(NotFound):
        pay(ledger, merchant, shard, {"wallet_id": wp}, 1)
    with pytest.raises(InvalidRequest):
        ledger.spread_credits(shop, 0)
    ledger.spread_credits(shop, 4)  # more shards: fine; fewer would strand money
    with pytest.raises(InvalidRequest):
        ledger.spread_credits(shop, 1)
    assert ledger.wallet(merchant, shop).credit_shards == 4
    with pytest.raises(NotFound):
        ledger.spread_credits("wal_" + uuid.uuid4().hex, 2)
