"""Pure ledger rules and the reconciliation's drift detection (fakes, no I/O)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.adapters.dynamodb.ledger import decode_cursor, encode_cursor
from chalicelib.domain.errors import InvalidRequest
from chalicelib.domain.ledger import (
    IdempotencyKeyRequired,
    Movement,
    SameWallet,
    check_idempotency_key,
    deterministic_id,
    request_hash,
)
from chalicelib.domain.money import Money
from chalicelib.domain.wallet import Entry, Transfer, Wallet
from chalicelib.services.reconcile import reconcile


def test_movement_refuses_same_wallet_and_non_positive():
    with pytest.raises(SameWallet):
        Movement("t", "transfer", "w1", "w1", Money(1, "USD"), "a", "a")
    with pytest.raises(ValueError):
        Movement("t", "transfer", "w1", "w2", Money(0, "USD"), "a", "b")
    with pytest.raises(ValueError):
        Movement("t", "mint", "w1", "w2", Money(1, "USD"), "a", "b")


def _mac(key: bytes):
    import hashlib
    import hmac

    return lambda value: hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def test_request_hash_is_order_independent_and_value_sensitive():
    mac = _mac(b"k" * 32)
    assert request_hash("transfers", {"a": 1, "b": {"c": 2}}, mac) == request_hash("transfers",
                                                                                  {"b": {"c": 2}, "a": 1}, mac)
    assert request_hash("transfers", {"amount": 100}, mac) != request_hash("transfers", {"amount": 101}, mac)
    assert request_hash("transfers", {"amount": 100}, mac) != request_hash("topups", {"amount": 100}, mac)


def test_request_hash_is_keyed_not_a_plain_digest_of_the_body():
    # A table dump must not let anyone test guesses of the e-mail or memo inside a body.
    import hashlib
    import json

    body = {"to": {"email": "ada@example.com"}, "memo": "rent", "amount": 100}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    keyed = request_hash("transfers", body, _mac(b"k" * 32))
    assert keyed != hashlib.sha256(canonical.encode()).hexdigest()
    assert keyed != hashlib.sha256(f"request:transfers:{canonical}".encode()).hexdigest()
    assert keyed != request_hash("transfers", body, _mac(b"j" * 32))  # depends on the server key


def test_deterministic_ids():
    assert deterministic_id("tr", "u1", "k") == deterministic_id("tr", "u1", "k")
    assert deterministic_id("tr", "u1", "k") != deterministic_id("tr", "u2", "k")


@pytest.mark.parametrize("key", [None, "", "x" * 256])
def test_idempotency_key_bounds(key):
    with pytest.raises(IdempotencyKeyRequired):
        check_idempotency_key(key)
    assert check_idempotency_key("x" * 255)


def test_cursor_round_trip_and_garbage():
    assert decode_cursor(encode_cursor("1767225600000#tr_1#d")) == "1767225600000#tr_1#d"
    for bad in ["", "garbage", encode_cursor("")[:-2] + "!!", "eyJ4IjogMX0"]:
        with pytest.raises(InvalidRequest):
            decode_cursor(bad)


class Store:
    def __init__(self, wallets, transfers, entries):
        self.w, self.t, self.e = wallets, transfers, entries

    def scan_wallets(self):
        return iter(self.w)

    def scan_transfers(self):
        return iter(self.t)

    def scan_entries(self):
        return iter(self.e)


def W(wid, balance, held=0, kind="user"):
    return Wallet(wid, "o", "USD", "n", balance, held, balance - held, "active", kind, False, "t")


def T(tid, status="posted", amount=100, src="sys:x:USD:0", dst="a"):
    return Transfer(tid, "transfer", status, src, dst, "s", "o", amount, "USD", None, "t")


def E(tid, wid, direction, amount=100, status="posted"):
    return Entry(wid, f"0#{tid}#{direction[0]}", tid, "transfer", direction, amount, "USD", status, None, "t")


def healthy():
    wallets = [W("sys:x:USD:0", -100, kind="system"), W("a", 60, held=10), W("b", 40)]
    transfers = [T("t1"), T("t2", amount=40, src="a", dst="b"), T("t3", "pending", 10, "a", "sys:x:USD:0")]
    entries = [E("t1", "sys:x:USD:0", "debit"), E("t1", "a", "credit"), E("t2", "a", "debit", 40),
               E("t2", "b", "credit", 40), E("t3", "a", "debit", 10, "pending")]
    return wallets, transfers, entries


def test_a_consistent_ledger_has_no_drift():
    report = reconcile(Store(*healthy()))
    assert report.ok and report.totals == {"USD": 0} and report.entries == 5


@pytest.mark.parametrize("corrupt", ["balance", "held", "available", "sum", "leg_amount", "missing_leg",
                                     "orphan_entry", "negative"])
def test_each_kind_of_drift_is_reported(corrupt):
    wallets, transfers, entries = healthy()
    if corrupt == "balance":
        wallets[2] = replace(wallets[2], balance=41, available=41)
        wallets[0] = replace(wallets[0], balance=-101, available=-101)  # keep the sum at zero
    elif corrupt == "held":
        wallets[1] = replace(wallets[1], held=0)
    elif corrupt == "available":
        wallets[1] = replace(wallets[1], available=60)
    elif corrupt == "sum":
        wallets[0] = replace(wallets[0], balance=-99, available=-99)
    elif corrupt == "leg_amount":
        entries[3] = replace(entries[3], amount=39)
    elif corrupt == "missing_leg":
        entries.pop(3)
    elif corrupt == "orphan_entry":
        entries.append(E("ghost", "b", "credit", 0))
    elif corrupt == "negative":
        wallets.append(W("c", -5))
        wallets[0] = replace(wallets[0], balance=-95, available=-95)
        entries.append(E("t9", "c", "debit", 5))
        transfers.append(T("t9", amount=5, src="c", dst="sys:x:USD:0"))
        entries.append(E("t9", "sys:x:USD:0", "credit", 5))
    report = reconcile(Store(wallets, transfers, entries))
    assert not report.ok, corrupt


def test_holds_pending_longer_than_the_configured_age_are_reported():
    from dataclasses import replace

    wallets, transfers, entries = healthy()
    # t3: the pending hold of a withdrawal (a dispute's hold may stay open for weeks: not reported)
    transfers[2] = replace(transfers[2], created_at="2026-01-01T00:00:00.000Z", type="withdrawal")
    now = 1767225600.0 + 2 * 86400  # 2026-01-03
    assert reconcile(Store(wallets, transfers, entries), now=now, stale_after_seconds=3 * 86400).stale_holds == []
    report = reconcile(Store(wallets, transfers, entries), now=now, stale_after_seconds=86400)
    assert report.ok and len(report.stale_holds) == 1 and "t3" in report.stale_holds[0]
    transfers[2] = replace(transfers[2], type="dispute")
    assert reconcile(Store(wallets, transfers, entries), now=now, stale_after_seconds=86400).stale_holds == []


def test_idempotency_keys_are_scoped_per_user_and_per_operation():
    from chalicelib.services.ledger import idempotency_record_key

    assert idempotency_record_key("u1", "transfers", "k") != idempotency_record_key("u1", "payment_requests", "k")
    assert idempotency_record_key("u1", "transfers", "k") != idempotency_record_key("u2", "transfers", "k")
    assert "k" not in idempotency_record_key("u1", "transfers", "k").split("#")[-1]  # the client's key is hashed


@pytest.mark.parametrize("sk", ["\ud800", "", "x" * 20, "0000000000001#tr_1#x", "1#tr#d"])
def test_a_cursor_names_an_entry_key_or_nothing(sk):
    import base64
    import json

    from chalicelib.adapters.dynamodb.ledger import decode_cursor, encode_cursor
    from chalicelib.domain.errors import InvalidRequest

    raw = base64.urlsafe_b64encode(json.dumps({"sk": sk}).encode()).decode().rstrip("=")
    with pytest.raises(InvalidRequest):
        decode_cursor(raw)
    good = "1767225600000#tr_abc#d"
    assert decode_cursor(encode_cursor(good)) == good


def test_no_client_key_can_take_the_id_another_operation_makes():
    from chalicelib.domain.ledger import deterministic_id, keyed_id

    # A transfer keyed "offline.allowances|K" would have the id of the allowance keyed "K" if
    # both were "|"-joined; the operations' ids are JSON-encoded instead.
    assert deterministic_id("tr", "usr_1", "offline.allowances|K") != keyed_id("tr", "usr_1", "offline.allowances", "K")
    assert keyed_id("tr", "usr_1", "a", "b|c") != keyed_id("tr", "usr_1", "a|b", "c")
