"""POST /transfers answers its retries from the payment's own transfer record (issue 31: no
idempotency record beside a payment, 16 -> 14 WCU), on fakes. The same on DynamoDB Local, with
records written before, is in tests/integration/test_ledger_dynamodb.py."""
from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.adapters.crypto import BlindIndex
from chalicelib.domain.commands import SendTransfer
from chalicelib.domain.ledger import IdempotencyKeyReused, deterministic_id
from chalicelib.domain.money import Money
from chalicelib.domain.results import TransferView
from chalicelib.domain.user import NewWallet, User
from chalicelib.services.ledger import Ledger, LedgerPolicy
from chalicelib.services.replay import Outcome
from tests.fakes import Clock, FakeUsers, PlainCipher
from tests.fakes_money import FakeBook, FakeLedgerStore

KEY = "A" * 43 + "="


@pytest.fixture
def world() -> tuple[Ledger, FakeLedgerStore, FakeBook]:
    book, users = FakeBook(), FakeUsers()
    store = FakeLedgerStore(book, users=users)
    ledger = Ledger(store=store, users=users, blind_index=BlindIndex(KEY), cipher=PlainCipher(),
                    policy=LedgerPolicy(("USD",), "USD"), now=Clock())
    for who in ("ana", "ben"):
        users.create(User(user_id=f"usr_{who}", created_at="t"), [],
                     NewWallet(f"wal_{who}", f"usr_{who}", "USD", "Main", "t"))
        book.wallet(f"wal_{who}", f"usr_{who}")
    assert ledger.credit_from_system("stripe_clearing", "wal_ana", Money(1000, "USD"), "tp_1")
    return ledger, store, book


def send(ledger: Ledger, key: str, amount: int = 100, memo: str | None = "Dinner") -> Outcome[TransferView]:
    body: dict[str, object] = {"from_wallet_id": "wal_ana", "to": {"wallet_id": "wal_ben"}, "amount": amount,
                               "currency": "USD"}
    if memo is not None:
        body["memo"] = memo
    return ledger.transfer("usr_ana", key, SendTransfer.of(body))


def test_a_retry_gets_the_first_answer_from_the_transfer_and_moves_nothing(world):
    ledger, store, book = world
    first = send(ledger, "k1")
    assert not first.replayed and first.body["memo"] == "Dinner"
    assert book.idempotency == {}  # nothing written beside the payment
    transfer = store.get_transfer(first.body["transfer_id"])
    assert transfer.answers_retries and transfer.request_hash
    again = send(ledger, "k1")
    assert again.replayed and again.body == first.body
    with pytest.raises(IdempotencyKeyReused):
        send(ledger, "k1", amount=101)
    with pytest.raises(IdempotencyKeyReused):
        send(ledger, "k1", memo="Lunch")
    assert store.get_wallet("wal_ana").balance == 900 and store.get_wallet("wal_ben").balance == 100


def test_the_first_answer_stands_whatever_happened_to_the_transfer_since(world):
    ledger, _, book = world
    first = send(ledger, "k2")
    tid = first.body["transfer_id"]
    book.transfers[tid] = replace(book.transfers[tid], status="reversed")
    assert send(ledger, "k2").body == first.body


def test_an_empty_memo_is_no_memo_in_the_answer_and_its_replay(world):
    ledger, _, _ = world
    first = send(ledger, "k3", memo="")
    assert first.body["memo"] is None and send(ledger, "k3", memo="").body == first.body


def test_a_retry_that_loses_the_race_answers_from_its_twins_transfer(world, monkeypatch):
    # Both read "nothing yet"; the twin's transaction commits first; this one's transfer put
    # fails (DuplicateRequest) and it answers the twin's payment as a replay.
    ledger, store, _ = world
    first = send(ledger, "k4")
    reads = store.payment_reads

    def before_the_twin(**kw):  # what the batch read saw before the twin's commit
        return replace(reads(**kw), earlier=None)

    monkeypatch.setattr(store, "payment_reads", before_the_twin)
    again = send(ledger, "k4")
    assert again.replayed and again.body == first.body
    assert first.body["transfer_id"] == deterministic_id("tr", "usr_ana", "k4")
    assert store.get_wallet("wal_ana").balance == 900


def test_an_invitation_racing_a_payment_of_the_same_key_is_told_the_key_was_reused(world, monkeypatch):
    # The payment wrote no idempotency record: the invitation's lost race finds its transfer.
    ledger, store, _ = world
    send(ledger, "k5")
    reads = store.payment_reads
    monkeypatch.setattr(store, "payment_reads", lambda **kw: replace(reads(**kw), earlier=None))
    invite = SendTransfer.of({"from_wallet_id": "wal_ana", "to": {"email": "nobody@example.com", "invite": True},
                              "amount": 100, "currency": "USD"})
    with pytest.raises(IdempotencyKeyReused):
        ledger.transfer("usr_ana", "k5", invite)
    assert store.get_wallet("wal_ana").available == 900
