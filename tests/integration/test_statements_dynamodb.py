"""Statements people can check, on DynamoDB Local with the stack's chainer running (its event
pump reads the entries stream): chains under concurrent transfers (a merchant's shards
included), statements that add up and verify, and edits made straight in the tables found by
verify-ledger and by a person holding a checkpoint saved before them."""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.models import ChainHeadRecord, EntryRecord
from chalicelib.domain.ids import new_id
from chalicelib.domain.money import Money
from chalicelib.domain.statements import Checkpoint, first_break, link_hash, merkle_path
from offline_wallet.payer import Chain, sign_voucher
from statement_verify import Invalid, verify
from tests.integration.test_ledger_dynamodb import fund, pay, person

MONTH = time.strftime("%Y-%m", time.gmtime())


@pytest.fixture
def ledger(stack_container):
    return stack_container.ledger


def chained(wallets: list[str], timeout: float = 45) -> None:
    """Wait until the stack's chainer has linked every posted entry of these wallets."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        loose = [e for w in wallets for e in EntryRecord.query(w, consistent_read=True)
                 if e.status == "posted" and e.chain_seq is None]
        if not loose:
            return
        time.sleep(0.3)
    raise AssertionError(f"{len(loose)} posted entries still unchained")


def statement(c, user_id: str, wallet_id: str, checkpoint: str | None = None) -> dict[str, Any]:
    return c.statements.statement(user_id, wallet_id, MONTH, checkpoint)


def checks(c, s: dict[str, Any], saved: dict[str, Any] | None = None) -> str:
    return verify(s, c.ledger_keys.jwks(), saved)


def test_concurrent_payments_chain_every_entry_once_in_order_on_a_merchant_s_shards(stack_container, ledger):
    merchant, _, shop = person(stack_container, derived=True)
    ledger.spread_credits(shop, 4)
    payers = [person(stack_container, derived=True)[::2] for _ in range(6)]  # (user, wallet)
    for user_and_wallet in payers:
        fund(ledger, user_and_wallet[1], 1000)
    # Six payers at once, four payments each: the shards' chains are extended concurrently.
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda p: [pay(ledger, p[0], p[1], {"wallet_id": shop}, 9) for _ in range(4)], payers))
    _, _, supplier = person(stack_container, derived=True)
    pay(ledger, merchant, shop, {"wallet_id": supplier}, 100)  # a debit on the main chain (after a sweep)
    chained([shop] + [w for _, w in payers])
    store = stack_container.chain_store
    chains = {e.chain for e in EntryRecord.query(shop, consistent_read=True)}
    assert shop in chains and len(chains) >= 3  # the main item's chain and two or more shards'
    for chain in chains:
        links = store.links(chain)
        assert [x.seq for x in links] == list(range(1, len(links) + 1)) and first_break(links) is None
        head = ChainHeadRecord.get(chain, consistent_read=True)
        assert (int(head.seq), head.hash) == (links[-1].seq, links[-1].hash)
    assert sum(len(store.links(ch)) for ch in chains) == 25  # every entry once: 24 credits, 1 debit
    stack_container.statements.make_checkpoint()
    s = statement(stack_container, merchant, shop)
    assert s["closing_balance"] == ledger.wallet(merchant, shop).balance == 24 * 9 - 100
    assert checks(stack_container, s).startswith("OK")


def test_a_statement_adds_up_over_every_kind_of_entry_and_verifies(stack_container, ledger):
    a, _, wa = person(stack_container, derived=True)
    b, b_email, wb = person(stack_container, derived=True)
    fund(ledger, wa, 10_000)  # a top-up
    pay(ledger, a, wa, {"email": b_email}, 700)  # a transfer by e-mail
    pay(ledger, b, wb, {"wallet_id": wa}, 200)  # and back
    assert ledger.debit_to_system("stripe_clearing", wa, Money(300, "USD"), new_id("rf"), "refund")  # a refund
    posted, voided = new_id("wd"), new_id("wd")
    for hold in (posted, voided):  # withdrawals' holds: one posted, one voided
        assert ledger.debit_to_system("payouts", wa, Money(1000, "USD"), hold, "withdrawal", hold=True)
    assert ledger.resolve_hold(posted, post=True) and ledger.resolve_hold(voided, post=False)
    invited = pay(ledger, a, wa, {"email": f"nobody.{uuid.uuid4().hex[:6]}@example.com", "invite": True}, 50)
    assert invited.body["status"] == "unclaimed"  # a hold: not in the posted balance yet
    chained([wa, wb])
    c = stack_container
    c.statements.make_checkpoint()
    s = statement(c, a, wa)
    kinds = [(i["type"], i["direction"]) for i in s["items"]]
    assert ("topup", "credit") in kinds and ("refund", "debit") in kinds and ("withdrawal", "debit") in kinds
    assert kinds.count(("withdrawal", "debit")) == 1  # the voided hold never posted
    assert s["opening_balance"] == 0
    assert s["closing_balance"] == 10_000 - 700 + 200 - 300 - 1000 == ledger.wallet(a, wa).balance
    assert checks(c, s).startswith("OK")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    assert c.statements.balance(a, wa, now)["balance"] == s["closing_balance"]
    assert c.statements.balance(a, wa, "2000-01-01T00:00:00Z")["balance"] == 0
    before_refund = next(i for i in s["items"] if i["type"] == "refund")
    at = c.statements.balance(a, wa, before_refund["posted_at"])  # at the instant: included
    assert at["balance"] == before_refund["balance_after"]


def test_offline_redemptions_and_exchanges_are_chained_and_add_up(stack_container, ledger):
    """The two kinds of entry the test above does not make: a voucher redeemed (the payer's hold
    posted to the payee) and an exchange (three transfers in one transaction, across currencies).
    Every wallet they touch has a statement that adds up and verifies."""
    from tests.integration.test_exchange_dynamodb import execute, quote
    from tests.integration.test_offline_dynamodb import allowance, offline, redeem

    c = stack_container
    a, _, wa = person(c, derived=True)
    b, _, wb = person(c, derived=True)
    fund(ledger, wa, 20_000)
    q = quote(c.exchanges, a, "USD", "EUR", sell_amount=5_000)
    eur = execute(c.exchanges, a, q, wa).body["to_wallet_id"]
    service = offline(c)
    cert, key = allowance(c, service, a, wa, 2_000)
    chain = Chain(cert["certificate"])
    vouchers = [sign_voucher(chain, key, b, 300), sign_voucher(chain, key, b, 450)]
    assert [r["status"] for r in redeem(service, b, cert["certificate"], vouchers)] == ["credited", "credited"]
    chained([wa, wb, eur])
    c.statements.make_checkpoint()
    for owner, wallet, expected in ((a, wa, 20_000 - 5_000 - 750), (b, wb, 750), (a, eur, q["buy"]["amount"])):
        st = statement(c, owner, wallet)
        assert st["closing_balance"] == expected == ledger.wallet(owner, wallet).balance
        assert checks(c, st).startswith("OK"), (wallet, checks(c, st))
    kinds = {(i["type"], i["direction"]) for i in statement(c, a, wa)["items"]}
    assert ("exchange", "debit") in kinds and ("offline", "debit") in kinds
    assert {(i["type"], i["direction"]) for i in statement(c, b, wb)["items"]} == {("offline", "credit")}
    assert {(i["type"], i["direction"]) for i in statement(c, a, eur)["items"]} == {("exchange", "credit")}


def test_edits_in_the_tables_are_found_by_verify_ledger_and_by_a_saved_checkpoint(stack_container, ledger):
    c = stack_container
    a, _, wa = person(c, derived=True)
    _, _, wb = person(c, derived=True)
    fund(ledger, wa, 5000)
    for amount in (100, 200, 300, 400):
        pay(ledger, a, wa, {"wallet_id": wb}, amount)
    chained([wa, wb])
    c.statements.make_checkpoint()
    saved = c.statements.latest()
    s = statement(c, a, wa, saved["checkpoint_id"])
    assert checks(c, s, saved).startswith("OK")
    mine = [p for p in c.statements.verify_ledger()["problems"] if p.get("wallet_id") == wa]
    assert mine == []

    entries = sorted((e for e in EntryRecord.query(wa, consistent_read=True) if e.chain_seq),
                     key=lambda e: int(e.chain_seq))
    ddb = c.client("dynamodb")
    # The tables as they were, put back afterwards: the stack is shared with tests that reconcile.
    kept = [(EntryRecord.Meta.table_name, ddb.get_item(TableName=EntryRecord.Meta.table_name, ConsistentRead=True,
                                                       Key={"wallet_id": {"S": wa}, "sk": {"S": e.sk}})["Item"])
            for e in entries]
    heads = ChainHeadRecord.Meta.table_name
    kept.append((heads, ddb.get_item(TableName=heads, Key={"chain": {"S": wa}}, ConsistentRead=True)["Item"]))
    try:
        tamper(c, a, wa, entries, saved)
    finally:
        for table, item in kept:
            ddb.put_item(TableName=table, Item=item)
    assert not [p for p in c.statements.verify_ledger()["problems"] if p.get("wallet_id") == wa]


def tamper(c, a: str, wa: str, entries: list[EntryRecord], saved: dict[str, Any]) -> None:
    # An insider raises an amount in place.
    edited = entries[2]
    edited.update(actions=[EntryRecord.amount.set(int(edited.amount) - 50)])
    report = c.statements.verify_ledger()
    assert report["intact"] is False
    found = [p for p in report["problems"] if p.get("wallet_id") == wa]
    assert found[0]["seq"] == int(edited.chain_seq) and found[0]["what"].startswith("changed")
    with pytest.raises(Invalid, match="changed"):
        checks(c, statement(c, a, wa, saved["checkpoint_id"]), saved)

    # ... and covers it: every hash from there on recomputed, the head moved. The chain holds
    # again, but not under the checkpoint saved before.
    prev = edited.prev_hash
    for e in entries[2:]:
        fields = {"amount": int(e.amount), "chain": e.chain,  # the edited one's new amount (update() set it)
                  "currency": e.currency, "direction": e.direction, "posted_at": e.posted_at, "seq": int(e.chain_seq),
                  "transfer_id": e.transfer_id, "type": e.type, "wallet_id": e.wallet_id}
        new = link_hash(str(prev), fields)
        e.update(actions=[EntryRecord.hash.set(new), EntryRecord.prev_hash.set(str(prev))])
        prev = new
    ChainHeadRecord(wa, wallet_id=wa, seq=int(entries[-1].chain_seq), hash=str(prev), updated_at="x").save()
    rewritten = statement(c, a, wa, saved["checkpoint_id"])
    with pytest.raises(Invalid, match=r"head|root"):
        checks(c, rewritten, saved)
    problems = [p for p in c.statements.verify_ledger()["problems"] if p.get("wallet_id") == wa]
    assert problems and "since checkpoint" in problems[0]["what"]

    # An entry deleted: the chain's next entry no longer follows.
    gone = entries[1]
    gone.delete()
    problems = [p for p in c.statements.verify_ledger()["problems"] if p.get("wallet_id") == wa]
    assert any(p["what"].startswith("removed") and p["seq"] == int(gone.chain_seq) + 1 for p in problems)
    with pytest.raises(Invalid):
        checks(c, statement(c, a, wa, saved["checkpoint_id"]), saved)


def test_a_checkpoint_finishing_after_a_newer_one_is_kept_without_moving_the_pointer_back(stack_container):
    """The hourly job and an operator's run can overlap: the one that started first may finish
    last. It is saved under its own id, and the pointer stays on the newer one (it failed with
    ConditionalCheckFailed when the stack's own job raced a test's checkpoint)."""
    c = stack_container
    c.statements.make_checkpoint()
    newer = c.chain_store.latest_checkpoint()
    assert newer is not None
    heads = c.chain_store.checkpoint_heads(newer.checkpoint_id)
    # A whole, signed checkpoint (verify-ledger, run later on the same tables, checks them all).
    older_id = f"cp_0000000000001_{uuid.uuid4().hex[:8]}"
    jws = c.statements.signer.sign_checkpoint({"checkpoint_id": older_id, "at": newer.at, "root": newer.root})
    older = Checkpoint(older_id, newer.at, newer.root, jws)
    c.chain_store.save_checkpoint(older, heads, {h.chain: merkle_path(heads, h.chain) for h in heads})
    latest = c.chain_store.latest_checkpoint()
    assert latest is not None and latest.checkpoint_id >= newer.checkpoint_id
    assert c.chain_store.checkpoint(older.checkpoint_id) == older
    ids = [c.statements.make_checkpoint()["checkpoint_id"] for _ in range(3)]
    assert len(set(ids)) == 3  # unique even within one millisecond
