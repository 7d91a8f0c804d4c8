"""The capacity model's arithmetic (bench/capacity.py, docs/capacity.md): item sizes as DynamoDB
counts them, the units they cost, the ceilings and the price of a million transfers."""
from __future__ import annotations

import math

import pytest

from bench.capacity import (
    PARTITION_WCU,
    Meter,
    Units,
    ceilings,
    cost_per_million,
    item_size,
    merchant_transfers_per_second,
    read_units,
    system_ceiling,
    transfers_per_second,
    value_size,
    write_units,
)


def test_item_size_counts_names_and_values_as_dynamodb_does() -> None:
    # "wallet_id" (9) + "w1" (2); "balance" (7) + 12345 (5 digits: 3 bytes + 1)
    assert item_size({"wallet_id": {"S": "w1"}, "balance": {"N": "12345"}}) == 9 + 2 + 7 + 4
    assert value_size({"S": "é"}) == 2  # UTF-8 bytes, not characters
    assert value_size({"N": "1000"}) == value_size({"N": "1"}) == 2  # trailing zeros are trimmed
    assert value_size({"N": "-0.25"}) == 2
    assert value_size({"BOOL": True}) == value_size({"NULL": True}) == 1
    assert value_size({"M": {"a": {"S": "xy"}}}) == 3 + 1 + 1 + 2
    assert value_size({"L": [{"S": "x"}, {"S": "y"}]}) == 3 + 2 * (1 + 1)


def test_write_units_round_up_per_kb_and_double_in_a_transaction() -> None:
    assert write_units(1024) == 1
    assert write_units(1025) == 2
    assert write_units(1024, transactional=True) == 2
    assert write_units(1115, transactional=True) == 4  # the idempotency record measured: just over 1 KB
    assert write_units(0, transactional=True) == 2  # a ConditionCheck of a missing item still costs


def test_read_units_per_4_kb() -> None:
    assert read_units(4096) == 1
    assert read_units(4097) == 2
    assert read_units(100, consistent=False) == 0.5
    assert read_units(100, transactional=True) == 2
    assert read_units(0) == 1  # reading a missing item is not free


def test_one_partition_takes_a_thousand_units_a_second() -> None:
    assert transfers_per_second(2) == PARTITION_WCU / 2 == 500
    assert transfers_per_second(4) == 250
    assert transfers_per_second(0) == math.inf


def test_credit_shards_multiply_the_wallet_item_but_not_its_entries() -> None:
    # Without the entries' limit, 8 shards would take 8 x 500 a second ...
    assert merchant_transfers_per_second(8, wallet_item_wcu=2, entries_wcu=0.25) == 4000
    # ... but every credit's entry is written under the wallet's id: that partition binds.
    assert merchant_transfers_per_second(8, wallet_item_wcu=2, entries_wcu=4) == 250
    assert merchant_transfers_per_second(1, wallet_item_wcu=2, entries_wcu=2) == 500
    assert merchant_transfers_per_second(0, wallet_item_wcu=2, entries_wcu=1) == 500  # no shards: the item


def test_the_busiest_table_binds_the_system() -> None:
    assert system_ceiling({"wallets": 4, "entries": 8, "transfers": 2}, quota=40_000) == ("entries", 5000)


def test_ceilings_from_a_measured_transfer() -> None:
    transfer = Meter(prefix="", tables={
        "wallets": Units(items=2, largest=205, model_write=4, model_index_write=2),
        "entries": Units(items=2, largest=371, model_write=4),
        "idempotency": Units(items=1, largest=1115, model_write=4),
    })
    stream = {"entries": Units(items=2, largest=564, model_write=4, model_index_write=2)}
    cap = ceilings(transfer, stream)
    assert cap.one_wallet == 250  # the recipient's entries: 2 WCU put + 2 WCU chain link
    assert cap.merchant[32] == 250
    assert cap.binding_table == "entries"
    assert cap.system == 40_000 / 8
    assert cap.wru == 4 + 2 + 8 + 2 + 4


def test_cost_of_a_million() -> None:
    cost = cost_per_million(wru=16, rru=4, lambda_ms=50, memory_mb=1024)
    assert cost.dynamodb_write == pytest.approx(16 * 0.625)
    assert cost.dynamodb_read == pytest.approx(4 * 0.125)
    assert cost.lambda_compute == pytest.approx(1e6 * 0.05 * 0.0000166667)
    assert cost.lambda_requests == pytest.approx(0.20)
    assert cost.api_gateway == pytest.approx(3.50)
    assert cost.total == pytest.approx(10.0 + 0.5 + 0.833335 + 0.2 + 3.5)
    # Half the memory, half the compute; the rest unchanged.
    half = cost_per_million(wru=16, rru=4, lambda_ms=50, memory_mb=512)
    assert half.lambda_compute == pytest.approx(cost.lambda_compute / 2)
    assert half.dynamodb_write == cost.dynamodb_write
