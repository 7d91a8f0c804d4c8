"""The ledger's transactions and conditions on DynamoDB Local."""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.calls import dynamodb_calls
from chalicelib.adapters.dynamodb.models import IdempotencyRecord, TransferRecord
from chalicelib.domain.commands import SendTransfer
from chalicelib.domain.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from chalicelib.domain.ids import new_id
from chalicelib.domain.ledger import (
    CurrencyMismatch,
    IdempotencyKeyReused,
    InsufficientFunds,
    LimitExceeded,
    Movement,
    RecipientNotFound,
    SameWallet,
    default_wallet_id,
)
from chalicelib.domain.money import Money
from chalicelib.domain.principal import PendingSession
from chalicelib.domain.user import NewWallet, Session, User
from chalicelib.services.ledger import Ledger, LedgerPolicy
from chalicelib.services.reconcile import reconcile


@pytest.fixture
def ledger(stack_container):
    return stack_container.ledger


def person(c, currency: str = "USD", *, derived: bool = False) -> tuple[str, str, str]:
    """(user id, e-mail, default wallet id), made straight through the repositories. The wallet
    id is random (as defaults were before ids were derived) unless `derived`."""
    from chalicelib.domain.contact import email_lookup_key

    user_id, email = new_id("usr"), f"it.{uuid.uuid4().hex[:8]}@example.com"
    wallet_id = default_wallet_id(user_id, currency) if derived else new_id("wal")
    wallet = NewWallet(wallet_id, user_id, currency, "Main", "2026-01-01T00:00:00.000Z")
    key = "email#" + c.blind_index(email_lookup_key(email))
    c.users.create(User(user_id=user_id, created_at="2026-01-01T00:00:00.000Z"), [key], wallet, verified=(key,))
    return user_id, email, wallet.wallet_id


def fund(ledger, wallet_id: str, amount: int, currency: str = "USD") -> None:
    assert ledger.credit_from_system("stripe_clearing", wallet_id, Money(amount, currency), new_id("tp"))


def pay(ledger, user_id, wallet_id, to, amount, currency="USD", key=None, memo=None):
    body = {"from_wallet_id": wallet_id, "to": to, "amount": amount, "currency": currency}
    if memo:
        body["memo"] = memo
    return ledger.transfer(user_id, key or uuid.uuid4().hex, SendTransfer.of(body))


def test_transfer_by_email_moves_money_with_two_legs(stack_container, ledger):
    a, _, wa = person(stack_container)
    _, b_email, wb = person(stack_container)
    fund(ledger, wa, 5000)
    out = pay(ledger, a, wa, {"email": b_email.upper()}, 1250, memo="lunch")
    assert not out.replayed and out.body["to_wallet_id"] == wb and out.body["memo"] == "lunch"
    assert ledger.store.get_wallet(wa).balance == 3750 and ledger.store.get_wallet(wb).balance == 1250
    legs = {(e.wallet_id, e.direction, e.amount) for e in ledger.store.scan_entries()
            if e.transfer_id == out.body["transfer_id"]}
    assert legs == {(wa, "debit", 1250), (wb, "credit", 1250)}
    record = TransferRecord.get(out.body["transfer_id"])
    assert record.memo_ct and "lunch" not in record.memo_ct


def login(c, user_id: str) -> PendingSession:
    """A session for `user_id`, as an access token names it before it is read back."""
    session_id = new_id("ses")
    c.sessions.create(Session(session_id, user_id, "h", 0, "active", int(time.time()) + 600), "2026-01-01T00:00:00Z")
    return PendingSession(session_id)


def test_a_transfer_reads_once_then_writes_once(stack_container, ledger):
    """Session, key record, wallets or contact in one BatchGetItem; then the one transaction.
    By e-mail or phone, one GetItem between them: the caller's allowance of unknown addresses
    (Ledger.screen_lookup), which must be read before a known address may answer otherwise."""
    a, _, wa = person(stack_container, derived=True)
    _, b_email, wb = person(stack_container, derived=True)
    fund(ledger, wa, 5000)
    for to, reads in (({"email": b_email}, ["GetItem"]), ({"wallet_id": wb}, [])):
        session = login(stack_container, a)
        with dynamodb_calls(ledger.store._ddb) as calls:
            out = ledger.transfer(a, uuid.uuid4().hex, SendTransfer.of({"from_wallet_id": wa, "to": to, "amount": 100,
                                                                        "currency": "USD"}), session=session)
        assert calls == ["BatchGetItem", *reads, "TransactWriteItems"] and session.confirmed
        assert out.body["to_wallet_id"] == wb
    assert ledger.store.get_wallet(wb).balance == 200


def test_a_revoked_session_moves_nothing_and_a_retry_still_replays(stack_container, ledger):
    a, _, wa = person(stack_container, derived=True)
    _, _, wb = person(stack_container, derived=True)
    fund(ledger, wa, 5000)
    session, key = login(stack_container, a), uuid.uuid4().hex
    body = {"from_wallet_id": wa, "to": {"wallet_id": wb}, "amount": 100, "currency": "USD"}
    first = ledger.transfer(a, key, SendTransfer.of(body), session=session)
    assert ledger.transfer(a, key, SendTransfer.of(body), session=PendingSession(session.session_id)).body == first.body
    stack_container.sessions.revoke(session.session_id)
    for to in ({"wallet_id": wb}, {"email": "someone.else@example.com"}, {"email": "not an address"}):
        with pytest.raises(Unauthorized):
            ledger.transfer(a, uuid.uuid4().hex, SendTransfer.of(
                {**body, "to": to}), session=PendingSession(session.session_id))
    with pytest.raises(Unauthorized):  # not even the first answer again
        ledger.transfer(a, key, SendTransfer.of(body), session=PendingSession(session.session_id))
    assert ledger.store.get_wallet(wb).balance == 100 and ledger.store.get_wallet(wa).balance == 4900


def test_rejections_change_nothing(stack_container, ledger):
    a, _, wa = person(stack_container)
    _, _, wb = person(stack_container)
    _, _, weur = person(stack_container, "EUR")
    fund(ledger, wa, 1000)
    cases = [
        (InsufficientFunds, {"wallet_id": wb}, 1001, "USD"),
        (CurrencyMismatch, {"wallet_id": weur}, 10, "USD"),
        (CurrencyMismatch, {"wallet_id": wb}, 10, "EUR"),
        (SameWallet, {"wallet_id": wa}, 10, "USD"),
        (RecipientNotFound, {"wallet_id": "wal_nope"}, 10, "USD"),
        (RecipientNotFound, {"email": "nobody.at.all@example.com"}, 10, "USD"),
        (InvalidRequest, {"wallet_id": wb}, 100_000_001, "USD"),  # above 1,000,000.00 USD
        (InvalidRequest, {"wallet_id": wb}, 10, "CHF"),  # not a supported currency
    ]
    for error, to, amount, currency in cases:
        key = uuid.uuid4().hex
        with pytest.raises(error):
            pay(ledger, a, wa, to, amount, currency, key=key)
        with pytest.raises(IdempotencyRecord.DoesNotExist):
            IdempotencyRecord.get(f"{a}#" + __import__("hashlib").sha256(key.encode()).hexdigest())
    assert ledger.store.get_wallet(wa).balance == 1000 and ledger.store.get_wallet(wb).balance == 0
    with pytest.raises(NotFound):  # someone else's wallet as the source
        pay(ledger, a, wb, {"wallet_id": wa}, 1)


def test_daily_limit(stack_container):
    c = stack_container
    small = Ledger(store=c.ledger_store, users=c.users, blind_index=c.blind_index, cipher=c.cipher,
                   policy=LedgerPolicy(("USD",), "USD", max_transfer_major=100, daily_limit_major=100))
    a, _, wa = person(c)
    _, _, wb = person(c)
    fund(small, wa, 50_000)
    pay(small, a, wa, {"wallet_id": wb}, 6000)
    pay(small, a, wa, {"wallet_id": wb}, 4000)  # exactly 100.00 USD today
    with pytest.raises(LimitExceeded):
        pay(small, a, wa, {"wallet_id": wb}, 1)
    assert c.ledger_store.get_wallet(wa).balance == 40_000
    # The first movement of a day must fit under the limit too.
    roomy = Ledger(store=c.ledger_store, users=c.users, blind_index=c.blind_index, cipher=c.cipher,
                   policy=LedgerPolicy(("USD",), "USD", max_transfer_major=1000, daily_limit_major=100))
    a2, _, wa2 = person(c)
    fund(roomy, wa2, 50_000)
    with pytest.raises(LimitExceeded):
        pay(roomy, a2, wa2, {"wallet_id": wb}, 10_001)
    assert c.ledger_store.get_wallet(wa2).balance == 50_000


def test_idempotent_replay_and_reuse(stack_container, ledger):
    # Issue 31: POST /transfers writes no idempotency record beside the payment (2 write units
    # less); the transfer record keeps the request's hash and answers a retry with the body
    # first answered, memo included.
    from chalicelib.services.ledger import idempotency_record_key

    a, _, wa = person(stack_container)
    _, _, wb = person(stack_container)
    fund(ledger, wa, 1000)
    first = pay(ledger, a, wa, {"wallet_id": wb}, 100, key="k-1", memo="Dinner on Friday, thanks!")
    with pytest.raises(IdempotencyRecord.DoesNotExist):
        IdempotencyRecord.get(idempotency_record_key(a, "transfers", "k-1"), consistent_read=True)
    record = TransferRecord.get(first.body["transfer_id"], consistent_read=True)
    assert record.answers_retries and record.request_hash
    with dynamodb_calls(ledger.store._ddb) as calls:
        again = pay(ledger, a, wa, {"wallet_id": wb}, 100, key="k-1", memo="Dinner on Friday, thanks!")
    assert again.replayed and again.body == first.body
    assert calls == ["BatchGetItem"]  # the retry reads the record in its first batch, nothing more
    with pytest.raises(IdempotencyKeyReused):
        pay(ledger, a, wa, {"wallet_id": wb}, 101, key="k-1", memo="Dinner on Friday, thanks!")
    assert ledger.store.get_wallet(wa).balance == 900
    # Keys are per user: another user's identical key is a different request.
    b, _, wb2 = person(stack_container)
    fund(ledger, wb2, 100)
    assert not pay(ledger, b, wb2, {"wallet_id": wa}, 100, key="k-1").replayed


def test_payments_made_with_an_idempotency_record_still_replay_it(stack_container, ledger):
    # Payments written before (and invitations, and payments with a quote) keep a record of
    # their first answer: a retry replays that record, and when it has expired the key makes
    # nothing new (409), as before.
    from chalicelib.adapters.dynamodb.models import IdempotencyRecord as Record
    from chalicelib.services.ledger import idempotency_record_key

    a, _, wa = person(stack_container)
    _, _, wb = person(stack_container)
    fund(ledger, wa, 1000)
    first = pay(ledger, a, wa, {"wallet_id": wb}, 100, key="old-1")
    transfer = TransferRecord.get(first.body["transfer_id"], consistent_read=True)
    transfer.answers_retries = None  # as a transfer written with its idempotency record
    transfer.save()
    with pytest.raises(Conflict):
        pay(ledger, a, wa, {"wallet_id": wb}, 100, key="old-1")
    kept = ledger.kept_answer(idempotency_record_key(a, "transfers", "old-1"), transfer.request_hash, a,
                              {**first.body, "memo": "as first answered"}, time.time(), transfer.transfer_id)
    Record(key=kept.key, request_hash=kept.request_hash, status_code=201, response_ct=kept.response_ct,
           resource_id=kept.resource_id, created_at=first.body["created_at"], expires_at=kept.expires_at).save()
    again = pay(ledger, a, wa, {"wallet_id": wb}, 100, key="old-1")
    assert again.replayed and again.body == {**first.body, "memo": "as first answered"}
    assert ledger.store.get_wallet(wa).balance == 900


def test_concurrent_retries_of_one_key_move_money_once(stack_container, ledger):
    a, _, wa = person(stack_container)
    _, _, wb = person(stack_container)
    fund(ledger, wa, 1000)
    with ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda _: pay(ledger, a, wa, {"wallet_id": wb}, 300, key="same"), range(8)))
    assert len({o.body["transfer_id"] for o in outs}) == 1
    assert sum(not o.replayed for o in outs) == 1
    assert ledger.store.get_wallet(wa).balance == 700 and ledger.store.get_wallet(wb).balance == 300


def test_holds_post_or_void_exactly_once(stack_container, ledger):
    a, _, wa = person(stack_container)
    fund(ledger, wa, 1000)
    store = ledger.store
    for post in (True, False):
        tid = new_id("wd")
        store.hold(Movement(tid, "withdrawal", wa, store.system_shard("payouts", "USD"), Money(400, "USD"), a,
                            "system"), now="2026-01-01T00:00:00.000Z", now_ms=1)
        w = store.get_wallet(wa)
        assert (w.held, w.available) == (400, w.balance - 400)
        with pytest.raises(InsufficientFunds):  # the hold is not available to spend
            pay(ledger, a, wa, {"wallet_id": person(stack_container)[2]}, w.available + 1)
        transfer = store.get_transfer(tid)
        assert store.resolve_hold(transfer, post=post, now="2026-01-01T00:00:01.000Z", now_ms=2) is True
        assert store.resolve_hold(transfer, post=post, now="2026-01-01T00:00:02.000Z", now_ms=3) is False
        assert store.resolve_hold(transfer, post=not post, now="2026-01-01T00:00:02.000Z", now_ms=3) is False
        w = store.get_wallet(wa)
        assert w.held == 0 and w.available == w.balance
    assert store.get_wallet(wa).balance == 600  # one posted, one voided


def test_statement_pages_newest_first_without_gaps(stack_container, ledger):
    a, _, wa = person(stack_container)
    _, _, wb = person(stack_container)
    fund(ledger, wa, 10_000)
    ids = [pay(ledger, a, wa, {"wallet_id": wb}, i + 1).body["transfer_id"] for i in range(23)]
    seen, cursor = [], None
    while True:
        page, cursor = ledger.statement(a, wa, 10, cursor)
        seen += page
        if cursor is None:
            break
    assert [e["transfer_id"] for e in seen if e["type"] == "transfer"] == ids[::-1]
    assert len(seen) == 24 and seen[-1]["type"] == "topup"


def test_reconciliation_finds_no_drift(stack_container):
    report = reconcile(stack_container.ledger_store)
    assert report.ok, report.drift[:5]
    assert report.wallets > 0 and report.transfers > 0


def test_a_failed_condition_is_explained_by_the_item_itself_not_a_second_read(stack_container, ledger, monkeypatch):
    a, _, wa = person(stack_container)
    _, _, wb = person(stack_container)
    _, _, weur = person(stack_container, "EUR")
    fund(ledger, wa, 100)
    store = ledger.store

    def no_read(*_):
        raise AssertionError("the ledger read the wallet again")
    monkeypatch.setattr(store, "get_wallet", no_read)
    now = "2026-01-01T00:00:00.000Z"
    with pytest.raises(InsufficientFunds):
        store.move(Movement(new_id("tr"), "transfer", wa, wb, Money(500, "USD"), a, "b"), now=now, now_ms=1)
    with pytest.raises(CurrencyMismatch):
        store.move(Movement(new_id("tr"), "transfer", wa, weur, Money(50, "USD"), a, "b"), now=now, now_ms=1)
