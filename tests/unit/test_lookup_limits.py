"""Who is registered cannot be probed without limit (issue 26, attack 4), on fakes.

- At most 30 distinct unknown addresses per account per hour across transfers, invitations and
  payment requests; past that every NEW address answers 429, known or not (no oracle), before
  any balance check (an empty wallet tells nothing either).
- At most 5 phone changes per account per day, counted before the phone_taken look-up.
The race of many concurrent adds is proven on DynamoDB Local (tests/integration)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from chalicelib.adapters.crypto import BlindIndex
from chalicelib.domain.commands import RequestPayment, SendTransfer
from chalicelib.domain.contact import email_lookup_key, identity_key
from chalicelib.domain.errors import InvalidRequest, NotFound, PhoneTaken, TooManyRequests
from chalicelib.domain.ledger import InsufficientFunds, RecipientNotFound
from chalicelib.domain.money import Money
from chalicelib.domain.user import NewWallet, User
from chalicelib.domain.verification import Channel
from chalicelib.services.contacts import PHONE_CHANGES_PER_DAY, phone_change_key
from chalicelib.services.ledger import LOOKUP_MISSES_PER_HOUR, Ledger, LedgerPolicy
from chalicelib.services.lockout import DistinctLimit, Lockout, lookup_key
from chalicelib.services.payment_requests import PaymentRequests
from chalicelib.services.reconcile import reconcile
from tests.fakes import Clock, FakeCounters, FakeUsers, PlainCipher
from tests.fakes_money import FakeBook, FakeLedgerStore, FakeRequests
from tests.unit.identity_env import PASSWORD, make_env

KEY = "A" * 43 + "="
HOUR, DAY = 3600, 86400


# -- the distinct-member counter ----------------------------------------------------------------
def test_a_distinct_limit_counts_each_member_once_per_window():
    counters, t = FakeCounters(), 1_000_000
    limit = DistinctLimit(counters, 3, HOUR)
    for member in ("a", "b", "a", "c", "c"):
        limit.count("k", member, t)
    limit.count("k", "b", t + 10)  # counted already: free
    limit.check("k", "a", t + 10)
    with pytest.raises(TooManyRequests) as refused:
        limit.count("k", "d", t + 10)
    assert refused.value.retry_after == HOUR - 10
    with pytest.raises(TooManyRequests):
        limit.check("k", "d", t + 10)
    assert counters.sets["k"][0] == {"a", "b", "c"}  # a refused member is not kept
    limit.count("k", "d", t + HOUR)  # a new window
    assert counters.sets["k"] == ({"d"}, t + 2 * HOUR)
    limit.check("other", "x", t)  # nothing live: room
    assert "other" not in counters.sets


# -- transfers, invitations, payment requests ---------------------------------------------------
@dataclass
class World:
    book: FakeBook
    ledger: Ledger
    requests: PaymentRequests
    users: FakeUsers
    counters: FakeCounters
    clock: Clock
    mac: BlindIndex

    def person(self, user_id: str, email: str, *, verified: bool = True) -> str:
        key = identity_key(email_lookup_key(email), self.mac)
        self.users.create(User(user_id=user_id, created_at="t"), [key],
                          NewWallet(f"wal_{user_id}", user_id, "USD", "Main", "t"), verified=(key,) if verified else ())
        self.book.wallet(f"wal_{user_id}", user_id)
        return key

    def send(self, sender: str, to: dict, amount: int = 100, key: str | None = None, **extra):
        return self.ledger.transfer(sender, key or uuid.uuid4().hex,
                                    SendTransfer.of({"from_wallet_id": f"wal_{sender}", "to": to, "amount": amount,
                                                     "currency": "USD", **extra}))

    def ask(self, requester: str, payer: dict, key: str | None = None):
        return self.requests.create(requester, key, RequestPayment.of(
            {"payer": payer, "amount": 100, "currency": "USD"}))

    def counted(self, user_id: str) -> set[str]:
        members, ends = self.counters.sets.get(lookup_key(user_id), (set(), 0))
        return members if ends > self.clock() else set()

    def fund(self, wallet_id: str, amount: int) -> None:
        assert self.ledger.credit_from_system("stripe_clearing", wallet_id, Money(amount, "USD"), uuid.uuid4().hex)


@pytest.fixture
def world() -> World:
    book, clock, mac, users, cipher, counters = FakeBook(), Clock(), BlindIndex(KEY), FakeUsers(), PlainCipher(), \
        FakeCounters()
    store = FakeLedgerStore(book, users=users)
    ledger = Ledger(store=store, users=users, blind_index=mac, cipher=cipher,
                    policy=LedgerPolicy(("USD", "EUR"), "USD"), now=clock,
                    invite_limit=Lockout(counters, 1000, HOUR),
                    lookup_limit=DistinctLimit(counters, LOOKUP_MISSES_PER_HOUR, HOUR))
    requests = PaymentRequests(ledger=ledger, store=store, requests=FakeRequests(book), users=users, cipher=cipher,
                               create_limit=Lockout(counters, 1000, HOUR), now=clock)
    w = World(book, ledger, requests, users, counters, clock, mac)
    w.person("usr_eve", "eve@example.com")  # the prober: an empty wallet
    w.person("usr_bob", "bob@example.com")  # someone registered
    return w


def unknown(i: int) -> dict:
    return {"email": f"nobody{i}@example.com"}


def test_attack_4_past_30_unknown_addresses_every_new_address_is_429_known_or_not(world):
    # Before the limit the answers differ (that is the product), but each unknown one counts.
    with pytest.raises(InsufficientFunds):  # a known address: not counted
        world.send("usr_eve", {"email": "bob@example.com"})
    for i in range(LOOKUP_MISSES_PER_HOUR):
        with pytest.raises(RecipientNotFound):
            world.send("usr_eve", unknown(i))
    assert len(world.counted("usr_eve")) == LOOKUP_MISSES_PER_HOUR
    with pytest.raises(TooManyRequests) as refused:
        world.send("usr_eve", unknown(99))
    assert 0 < refused.value.retry_after <= HOUR
    world.person("usr_cat", "cat@example.com")
    with pytest.raises(TooManyRequests):  # registered, not probed before: the same 429
        world.send("usr_eve", {"email": "cat@example.com"})
    with pytest.raises(TooManyRequests):  # a phone too
        world.send("usr_eve", {"phone": "+6591234567"})
    # An address counted already answers as before; paying a wallet is no look-up.
    with pytest.raises(RecipientNotFound):
        world.send("usr_eve", unknown(0))
    with pytest.raises(InsufficientFunds):
        world.send("usr_eve", {"wallet_id": "wal_usr_bob"})
    assert len(world.counted("usr_eve")) == LOOKUP_MISSES_PER_HOUR
    # Others are not limited by eve's probing; an hour later eve starts again.
    with pytest.raises(RecipientNotFound):
        world.send("usr_bob", unknown(99))
    world.clock.advance(HOUR)
    with pytest.raises(InsufficientFunds):
        world.send("usr_eve", {"email": "cat@example.com"})
    with pytest.raises(RecipientNotFound):
        world.send("usr_eve", unknown(99))


def test_transfers_invitations_and_payment_requests_share_one_allowance(world):
    for i in range(10):
        with pytest.raises(RecipientNotFound):
            world.send("usr_eve", unknown(i))
    for i in range(10, 20):
        with pytest.raises(InsufficientFunds):  # an invitation holds money she does not have
            world.send("usr_eve", {**unknown(i), "invite": True})
    for i in range(20, 30):
        with pytest.raises(RecipientNotFound):
            world.ask("usr_eve", unknown(i))
    for probe in (lambda: world.send("usr_eve", unknown(30)),
                  lambda: world.send("usr_eve", {**unknown(31), "invite": True}),
                  lambda: world.ask("usr_eve", unknown(32)),
                  lambda: world.ask("usr_eve", {"email": "bob@example.com"})):  # known: no oracle
        with pytest.raises(TooManyRequests):
            probe()
    with pytest.raises(RecipientNotFound):  # counted already, by a transfer
        world.ask("usr_eve", unknown(5))


def test_payments_to_known_people_never_use_up_the_allowance(world):
    world.fund("wal_usr_eve", 10_000)
    for _ in range(LOOKUP_MISSES_PER_HOUR + 5):
        assert world.send("usr_eve", {"email": "bob@example.com"}).body["status"] == "posted"
        world.ask("usr_eve", {"email": "bob@example.com"})
    assert world.counted("usr_eve") == set()
    assert reconcile(world.ledger.store).ok


def test_a_retry_replays_and_is_not_counted_again_even_at_the_limit(world):
    world.fund("wal_usr_eve", 10_000)
    invited = world.send("usr_eve", {**unknown(0), "invite": True}, key="inv-1")
    paid = world.send("usr_eve", {"email": "bob@example.com"}, key="pay-1")
    asked = world.ask("usr_eve", {"email": "bob@example.com"}, key="ask-1")
    for i in range(1, LOOKUP_MISSES_PER_HOUR):
        with pytest.raises(RecipientNotFound):
            world.send("usr_eve", unknown(i))
    before = set(world.counted("usr_eve"))
    assert len(before) == LOOKUP_MISSES_PER_HOUR
    with pytest.raises(TooManyRequests):
        world.send("usr_eve", {"email": "bob@example.com"}, key="pay-2")
    # Each retry gets its first answer, the known address's too (it was never in the set).
    again = world.send("usr_eve", {**unknown(0), "invite": True}, key="inv-1")
    assert again.replayed and again.body == invited.body
    again = world.send("usr_eve", {"email": "bob@example.com"}, key="pay-1")
    assert again.replayed and again.body == paid.body
    again = world.ask("usr_eve", {"email": "bob@example.com"}, key="ask-1")
    assert again.replayed and again.body == asked.body
    assert world.counted("usr_eve") == before
    assert reconcile(world.ledger.store).ok


def test_the_limit_comes_after_checks_that_do_not_depend_on_the_address(world):
    for i in range(LOOKUP_MISSES_PER_HOUR):
        with pytest.raises(RecipientNotFound):
            world.send("usr_eve", unknown(i))
    # Someone else's wallet, a bad amount or address: answered as before, nothing counted.
    with pytest.raises(InvalidRequest):
        world.send("usr_eve", {"email": "not an address"})
    with pytest.raises(InvalidRequest):
        world.send("usr_eve", unknown(99), currency="XXX")
    with pytest.raises(NotFound):
        world.ledger.transfer("usr_eve", "k", SendTransfer.of({"from_wallet_id": "wal_usr_bob", "to": unknown(99),
                                                               "amount": 100, "currency": "USD"}))
    assert len(world.counted("usr_eve")) == LOOKUP_MISSES_PER_HOUR


# -- phone changes ------------------------------------------------------------------------------
def phone(i: int) -> str:
    return f"+659100{i:04d}"


def test_attack_4_the_sixth_phone_change_of_a_day_is_429_taken_or_not():
    env = make_env()
    env.contacts.phone_changes = Lockout(env.counters, PHONE_CHANGES_PER_DAY, DAY)
    owner = env.identity.register("owner@example.com", PASSWORD, phone="+6598887777")
    env.contacts.send(owner.user_id, Channel.PHONE)
    env.contacts.confirm(owner.user_id, Channel.PHONE, env.outbox.last_code("+6598887777"))
    eve = env.identity.register("eve@example.com", PASSWORD).user_id
    env.contacts.update_profile(eve, phone=phone(0))  # a first phone counts
    env.contacts.update_profile(eve, phone="+65 9100 0000")  # the same number: no change, not counted
    with pytest.raises(InvalidRequest):  # not a number: a 400, not counted
        env.contacts.update_profile(eve, phone="12")
    with pytest.raises(PhoneTaken):  # a probe counts like a change
        env.contacts.update_profile(eve, phone="+6598887777")
    for i in (1, 2, 3):
        env.contacts.update_profile(eve, phone=phone(i))
    for attempt in (phone(4), "+6598887777"):  # the sixth: 429 whether the number is taken or not
        with pytest.raises(TooManyRequests) as refused:
            env.contacts.update_profile(eve, phone=attempt)
        assert 0 < refused.value.retry_after <= DAY
    assert env.identity.profile(eve).phone == phone(3)
    env.contacts.update_profile(eve, first_name="Eve", phone=phone(3))  # names and the same phone: fine
    env.contacts.update_profile(owner.user_id, phone=phone(9))  # per account
    env.clock.advance(DAY)
    env.contacts.update_profile(eve, phone=phone(4))
    assert env.identity.profile(eve).phone == phone(4)
    assert env.counters.current(phone_change_key(eve), int(env.clock()))[0] == 1
