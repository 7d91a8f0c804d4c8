"""Payment requests on in-memory fakes (services.payment_requests): the rules, one by one.

The race between two payments is proven on DynamoDB Local (tests/integration); here each
scenario ends with the ledger's reconciliation."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from chalicelib.adapters.crypto import BlindIndex
from chalicelib.domain.commands import RequestPayment
from chalicelib.domain.contact import email_lookup_key, identity_key
from chalicelib.domain.errors import NotFound, RequestNotPending, TooManyRequests
from chalicelib.domain.ledger import (
    CurrencyMismatch,
    IdempotencyKeyReused,
    InsufficientFunds,
    RecipientNotFound,
    SameWallet,
)
from chalicelib.domain.money import Money
from chalicelib.domain.party import public_name
from chalicelib.domain.payment_request import PaymentRequest, RequestOutcome
from chalicelib.domain.user import NewWallet, User
from chalicelib.services.ledger import Ledger, LedgerPolicy
from chalicelib.services.lockout import Lockout
from chalicelib.services.payment_requests import PaymentRequests
from chalicelib.services.reconcile import reconcile
from tests.fakes import Clock, FakeCounters, FakeUsers, PlainCipher
from tests.fakes_money import FakeBook, FakeLedgerStore, FakeRequests

KEY = "A" * 43 + "="


@dataclass
class World:
    book: FakeBook
    ledger: Ledger
    requests: PaymentRequests
    users: FakeUsers
    clock: Clock
    mac: BlindIndex

    def person(self, user_id: str, email: str, *, verified: bool = True, first: str | None = None,
               last: str | None = None) -> None:
        key = identity_key(email_lookup_key(email), self.mac)
        c = PlainCipher()
        user = User(user_id=user_id, created_at="t",
                    first_name_ct=c.encrypt(first, user_id, "first_name") if first else None,
                    last_name_ct=c.encrypt(last, user_id, "last_name") if last else None)
        self.users.create(user, [key], NewWallet(f"wal_{user_id}", user_id, "USD", "Main", "t"),
                          verified=(key,) if verified else ())
        self.book.wallet(f"wal_{user_id}", user_id)  # the default wallet, in the ledger's book

    def fund(self, wallet_id: str, owner: str, amount: int, currency: str = "USD") -> None:
        if wallet_id not in self.book.wallets:
            self.book.wallet(wallet_id, owner, currency)
        assert self.ledger.credit_from_system("stripe_clearing", wallet_id, Money(amount, currency),
                                              f"tp_{uuid.uuid4().hex}")

    def ask(self, requester: str, payer_email: str, amount: int = 1500, key: str | None = None, **extra):
        return self.requests.create(requester, key, RequestPayment.of(
            {"payer": {"email": payer_email}, "amount": amount,
             "currency": "USD", **extra}))

    def balance(self, wallet_id: str) -> int:
        return self.book.wallets[wallet_id].balance

    def check(self) -> None:
        report = reconcile(self.ledger.store)
        assert report.ok, report.drift


@pytest.fixture
def world() -> World:
    book, clock, mac, users, cipher = FakeBook(), Clock(), BlindIndex(KEY), FakeUsers(), PlainCipher()
    store = FakeLedgerStore(book, users=users)
    ledger = Ledger(store=store, users=users, blind_index=mac, cipher=cipher,
                    policy=LedgerPolicy(("USD", "EUR"), "USD", daily_limit_major=100), now=clock)
    requests = PaymentRequests(ledger=ledger, store=store, requests=FakeRequests(book), users=users, cipher=cipher,
                               create_limit=Lockout(FakeCounters(), 5, 3600), now=clock)
    w = World(book, ledger, requests, users, clock, mac)
    w.person("usr_ann", "ann@example.com", first="Ann", last="lee")
    w.person("usr_bob", "bob@example.com", first="Bob")
    w.fund("wal_usr_bob", "usr_bob", 5000)
    return w


def test_a_request_names_people_without_their_contacts_and_is_seen_by_both(world):
    body = world.ask("usr_ann", "bob@example.com", memo="pizza").body
    assert body["status"] == "pending" and body["amount"] == 1500 and body["memo"] == "pizza"
    assert body["requester"] == {"user_id": "usr_ann", "display_name": "Ann L."}
    assert body["payer"] == {"user_id": "usr_bob", "display_name": "Bob"}
    assert "@" not in str(body)
    assert world.requests.get("usr_bob", body["request_id"]) == body
    assert world.requests.get("usr_ann", body["request_id"]) == body
    world.person("usr_eve", "eve@example.com")
    with pytest.raises(NotFound):
        world.requests.get("usr_eve", body["request_id"])


def test_only_a_verified_contact_can_be_asked_and_never_yourself(world):
    world.person("usr_cat", "cat@example.com", verified=False)
    for email in ("cat@example.com", "nobody@example.com"):
        with pytest.raises(RecipientNotFound):
            world.ask("usr_ann", email)
    with pytest.raises(SameWallet):
        world.ask("usr_ann", "ann@example.com")
    assert world.book.requests == {}


def test_paying_moves_the_money_to_the_requesters_default_wallet_once(world):
    req = world.ask("usr_ann", "bob@example.com", memo="pizza").body
    paid = world.requests.pay("usr_bob", "k1", req["request_id"], "wal_usr_bob")
    assert paid.body["request"]["status"] == "paid"
    assert paid.body["request"]["transfer_id"] == paid.body["transfer"]["transfer_id"]
    assert paid.body["transfer"]["to_wallet_id"] == "wal_usr_ann" and paid.body["transfer"]["memo"] == "pizza"
    assert world.balance("wal_usr_ann") == 1500 and world.balance("wal_usr_bob") == 3500
    again = world.requests.pay("usr_bob", "k1", req["request_id"], "wal_usr_bob")
    assert again.replayed and again.body == paid.body
    with pytest.raises(IdempotencyKeyReused):
        world.requests.pay("usr_bob", "k1", req["request_id"], "wal_other")
    with pytest.raises(RequestNotPending):  # a second payment with another key
        world.requests.pay("usr_bob", "k2", req["request_id"], "wal_usr_bob")
    assert world.balance("wal_usr_ann") == 1500
    assert world.requests.get("usr_ann", req["request_id"])["status"] == "paid"
    world.check()


def test_a_request_in_a_currency_the_requester_has_no_wallet_of_opens_one(world):
    world.fund("wal_bob_eur", "usr_bob", 900, "EUR")
    req = world.requests.create("usr_ann", None, RequestPayment.of(
        {"payer": {"email": "bob@example.com"}, "amount": 700,
         "currency": "EUR"})).body
    with pytest.raises(CurrencyMismatch):
        world.requests.pay("usr_bob", "k0", req["request_id"], "wal_usr_bob")
    out = world.requests.pay("usr_bob", "k1", req["request_id"], "wal_bob_eur").body
    eur = world.book.wallets[out["transfer"]["to_wallet_id"]]
    assert (eur.owner_id, eur.currency, eur.balance) == ("usr_ann", "EUR", 700)
    world.check()


def test_transfer_rules_apply_and_a_refused_payment_leaves_the_request_pending(world):
    big = world.ask("usr_ann", "bob@example.com", amount=6000).body
    with pytest.raises(InsufficientFunds):
        world.requests.pay("usr_bob", "k1", big["request_id"], "wal_usr_bob")
    assert world.requests.get("usr_bob", big["request_id"])["status"] == "pending"
    with pytest.raises(NotFound):  # only the payer pays; someone else's wallet is not found
        world.requests.pay("usr_ann", "k2", big["request_id"], "wal_usr_ann")
    with pytest.raises(NotFound):
        world.requests.pay("usr_bob", "k3", big["request_id"], "wal_usr_ann")
    assert world.balance("wal_usr_bob") == 5000
    world.check()


def test_decline_by_the_payer_and_cancel_by_the_requester_only_while_pending(world):
    a = world.ask("usr_ann", "bob@example.com").body["request_id"]
    b = world.ask("usr_ann", "bob@example.com").body["request_id"]
    with pytest.raises(NotFound):
        world.requests.decline("usr_ann", a)  # the requester cancels, she does not decline
    with pytest.raises(NotFound):
        world.requests.cancel("usr_bob", a)
    assert world.requests.decline("usr_bob", a)["status"] == "declined"
    assert world.requests.cancel("usr_ann", b)["status"] == "canceled"
    for call in (lambda: world.requests.decline("usr_bob", a), lambda: world.requests.cancel("usr_ann", b),
                 lambda: world.requests.pay("usr_bob", "k", a, "wal_usr_bob")):
        with pytest.raises(RequestNotPending):
            call()
    assert world.balance("wal_usr_bob") == 5000


def test_a_request_reads_expired_at_its_expiry_and_the_sweep_writes_it(world):
    req = world.ask("usr_ann", "bob@example.com", expires_in=60).body
    world.clock.advance(59)
    assert world.requests.get("usr_bob", req["request_id"])["status"] == "pending"
    world.clock.advance(1)
    assert world.requests.get("usr_bob", req["request_id"])["status"] == "expired"
    with pytest.raises(RequestNotPending):
        world.requests.pay("usr_bob", "k1", req["request_id"], "wal_usr_bob")
    assert world.book.requests[req["request_id"]].status == "pending"  # read-time only, so far
    assert world.requests.expire() == 1 and world.requests.expire() == 0
    assert world.book.requests[req["request_id"]].status == "expired"
    assert world.balance("wal_usr_bob") == 5000


def test_lists_are_newest_first_by_role_and_status_with_a_cursor(world):
    world.person("usr_cat", "cat@example.com", first="Cat")
    ids = []
    for i in range(5):
        world.clock.advance(1)
        out = world.ask("usr_ann", "bob@example.com", amount=100 + i) if i % 2 == 0 else \
            world.requests.create("usr_bob", None, RequestPayment.of(
                {"payer": {"email": "ann@example.com"}, "amount": 100 + i,
                 "currency": "USD"}))
        ids.append(out.body["request_id"])
    world.requests.decline("usr_bob", ids[0])
    items, cursor = world.requests.list("usr_ann", None, None, 2, None)
    assert [r["request_id"] for r in items] == [ids[4], ids[3]] and cursor
    items, cursor = world.requests.list("usr_ann", None, None, 2, cursor)
    assert [r["request_id"] for r in items] == [ids[2], ids[1]] and cursor
    items, cursor = world.requests.list("usr_ann", None, None, 2, cursor)
    assert [r["request_id"] for r in items] == [ids[0]] and cursor is None
    assert [r["request_id"] for r in world.requests.list("usr_ann", "incoming", None, 20, None)[0]] == [ids[3], ids[1]]
    pending_out = world.requests.list("usr_ann", "outgoing", "pending", 20, None)[0]
    assert [r["request_id"] for r in pending_out] == [ids[4], ids[2]]
    assert [r["request_id"] for r in world.requests.list("usr_bob", None, "declined", 20, None)[0]] == [ids[0]]
    assert world.requests.list("usr_cat", None, None, 20, None) == ([], None)


def test_a_keyed_create_is_replayed_and_creating_is_limited(world):
    first = world.ask("usr_ann", "bob@example.com", key="r1")
    again = world.ask("usr_ann", "bob@example.com", key="r1")
    assert again.replayed and again.body == first.body and len(world.book.requests) == 1
    with pytest.raises(IdempotencyKeyReused):
        world.ask("usr_ann", "bob@example.com", amount=99, key="r1")
    for _ in range(4):
        world.ask("usr_ann", "bob@example.com")
    with pytest.raises(TooManyRequests):
        world.ask("usr_ann", "bob@example.com")
    assert len(world.book.requests) == 5


def test_an_outcome_names_its_party_and_a_paid_one_its_transfer():
    with pytest.raises(ValueError):
        RequestOutcome("prq_1", "paid", 1, by="u")  # no transfer
    with pytest.raises(ValueError):
        RequestOutcome("prq_1", "declined", 1)  # nobody
    with pytest.raises(ValueError):
        RequestOutcome("prq_1", "pending", 1, by="u")
    r = PaymentRequest("prq_1", "a", "b", 1, "USD", "pending", "t", 0, expires_at=100)
    assert (r.status_at(99.9), r.status_at(100)) == ("pending", "expired")
    assert (r.party_of("a"), r.party_of("b"), r.party_of("c")) == ("outgoing", "incoming", None)


@pytest.mark.parametrize(("first", "last", "shown"), [
    ("Ann", "Lee", "Ann L."), ("ann", "o'neil", "ann O."), ("Ann", None, "Ann"), (None, "Lee", None),
    ("Visit http://evil.example", "x", "Visit httpevilexample X."), ("1234", "Lee", None),
    ("Zoë", "Ødegaard", "Zoë Ø."),
])
def test_public_names_are_a_first_name_and_an_initial(first, last, shown):
    assert public_name(first, last) == shown


def test_a_status_filter_reads_only_so_far_in_one_call_and_the_cursor_goes_on(world):
    from chalicelib.services.payment_requests import READ_BUDGET

    world.requests.create_limit = None
    wanted = world.ask("usr_ann", "bob@example.com").body["request_id"]  # the oldest
    for _ in range(READ_BUDGET + 30):
        world.clock.advance(0.01)
        world.requests.decline("usr_bob", world.ask("usr_ann", "bob@example.com").body["request_id"])
    items, cursor = world.requests.list("usr_bob", "incoming", "pending", 20, None)
    assert items == [] and cursor  # nothing pending among the first READ_BUDGET + 20: come back
    items, cursor = world.requests.list("usr_bob", "incoming", "pending", 20, cursor)
    assert [r["request_id"] for r in items] == [wanted] and cursor is None
