"""Paying a contact nobody has verified yet, on in-memory fakes (services.invitations).

Each scenario ends with the ledger's reconciliation: held money stays inside the invariants."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from chalicelib.adapters.crypto import BlindIndex
from chalicelib.domain.commands import SendTransfer
from chalicelib.domain.contact import email_lookup_key, identity_key, phone_lookup_key
from chalicelib.domain.errors import NotFound, TooManyRequests, TransferNotCancelable
from chalicelib.domain.ledger import RecipientNotFound, SameWallet
from chalicelib.domain.messages import display_name
from chalicelib.domain.money import Money
from chalicelib.domain.user import NewWallet, User
from chalicelib.services.invitations import Invitations
from chalicelib.services.ledger import Ledger, LedgerPolicy
from chalicelib.services.lockout import Lockout
from chalicelib.services.reconcile import reconcile
from tests.fakes import Clock, FakeCounters, FakeMessenger, FakeUsers, PlainCipher
from tests.fakes_money import FakeBook, FakeLedgerStore

KEY = "A" * 43 + "="
DAY = 86400


@dataclass
class World:
    book: FakeBook
    ledger: Ledger
    invitations: Invitations
    users: FakeUsers
    outbox: FakeMessenger
    clock: Clock
    mac: BlindIndex

    def person(self, user_id: str, email: str, *, verified: bool = False, first_name: str | None = None) -> str:
        key = identity_key(email_lookup_key(email), self.mac)
        user = User(user_id=user_id, created_at="t",
                    first_name_ct=PlainCipher().encrypt(first_name, user_id, "first_name") if first_name else None)
        self.users.create(user, [key], NewWallet(f"wal_{user_id}", user_id, "USD", "Main", "t"),
                          verified=(key,) if verified else ())
        return key

    def send(self, sender: str, to: dict, amount: int = 1000, key: str | None = None, currency: str = "USD"):
        return self.ledger.transfer(sender, key or uuid.uuid4().hex, SendTransfer.of({
                            "from_wallet_id": f"wal_{sender}", "to": to, "amount": amount, "currency": currency}))

    def fund(self, wallet_id: str, owner: str, amount: int, currency: str = "USD") -> None:
        self.book.wallet(wallet_id, owner, currency)
        assert self.ledger.credit_from_system("stripe_clearing", wallet_id, Money(amount, currency),
                                              f"tp_{wallet_id}")

    def wallet(self, wallet_id: str) -> tuple[int, int, int]:
        w = self.book.wallets[wallet_id]
        return w.balance, w.held, w.available

    def check(self) -> None:
        report = reconcile(self.ledger.store)
        assert report.ok, report.drift


@pytest.fixture
def world() -> World:
    book, clock, mac = FakeBook(), Clock(), BlindIndex(KEY)
    users, outbox, cipher = FakeUsers(), FakeMessenger(), PlainCipher()
    store = FakeLedgerStore(book, users=users)
    ledger = Ledger(store=store, users=users, blind_index=mac, cipher=cipher,
                    policy=LedgerPolicy(("USD", "EUR"), "USD", invite_ttl_seconds=30 * DAY), now=clock)
    counters = FakeCounters()
    ledger.invite_limit = Lockout(counters, 20, 3600)
    invitations = Invitations(ledger=ledger, store=store, users=users, messenger=outbox, cipher=cipher, now=clock,
                              announce_limit=Lockout(counters, 3, 86400))
    ledger.announce = invitations.announce
    w = World(book, ledger, invitations, users, outbox, clock, mac)
    w.person("usr_ann", "ann@example.com", verified=True, first_name="Ann")
    w.fund("wal_usr_ann", "usr_ann", 5000)
    return w


def test_money_for_an_unverified_contact_is_held_and_announced_once(world):
    out = world.send("usr_ann", {"email": "friend@example.com", "invite": True}, key="k1")
    body = out.body
    assert body["status"] == "unclaimed" and body["to_wallet_id"] is None
    assert body["claim_expires_at"] > body["created_at"]
    assert world.wallet("wal_usr_ann") == (5000, 1000, 4000)  # available drops at once
    [(channel, address, message)] = world.outbox.sent
    assert (channel, address) == ("email", "friend@example.com")
    assert "Ann" in message.text and "10.00 USD" in message.text
    replay = world.send("usr_ann", {"email": "friend@example.com", "invite": True}, key="k1")
    assert replay.replayed and replay.body == body and len(world.outbox.sent) == 1
    assert world.ledger.get_transfer("usr_ann", body["transfer_id"])["status"] == "unclaimed"
    world.check()


def test_without_invite_an_unverified_contact_is_not_a_recipient(world):
    world.person("usr_bob", "bob@example.com")  # registered, e-mail not verified
    for to in ({"email": "bob@example.com"}, {"email": "nobody@example.com"}, {"phone": "+6591234567"}):
        with pytest.raises(RecipientNotFound):
            world.send("usr_ann", to)
    with pytest.raises(SameWallet):  # her own unverified address: verify it instead
        world.person("usr_cat", "cat@example.com")
        world.fund("wal_usr_cat", "usr_cat", 100)
        world.send("usr_cat", {"email": "cat@example.com", "invite": True}, amount=10)
    assert world.outbox.sent == [] and world.wallet("wal_usr_ann") == (5000, 0, 5000)


def test_with_invite_a_verified_contact_is_paid_at_once(world):
    world.person("usr_bob", "bob@example.com", verified=True)
    world.book.wallet("wal_usr_bob", "usr_bob")
    out = world.send("usr_ann", {"email": "BOB@example.com", "invite": True})
    assert out.body["status"] == "posted" and world.wallet("wal_usr_bob") == (1000, 0, 1000)
    assert world.outbox.sent == []


def test_the_first_account_to_verify_the_contact_receives_it_in_a_wallet_opened_for_it(world):
    world.fund("wal_usr_ann_eur", "usr_ann", 700, "EUR")
    out = world.ledger.transfer("usr_ann", "k-eur", SendTransfer.of({"from_wallet_id": "wal_usr_ann_eur", "amount": 700,
                                                                     "currency": "EUR",
                                                                     "to": {"phone": "+6591234567", "invite": True}}))
    phone_key = identity_key(phone_lookup_key("+6591234567"), world.mac)
    assert world.outbox.sent[-1][:2] == ("sms", "+6591234567")
    world.person("usr_bob", "bob@example.com")
    assert world.invitations.deliver(phone_key, "usr_bob") == 1
    bob_eur = world.ledger.default_wallet("usr_bob", "EUR")
    assert world.wallet(bob_eur) == (700, 0, 700) and world.wallet("wal_usr_ann_eur") == (0, 0, 0)
    seen_by_bob = world.ledger.get_transfer("usr_bob", out.body["transfer_id"])
    assert seen_by_bob["status"] == "posted" and seen_by_bob["to_wallet_id"] == bob_eur
    assert world.invitations.deliver(phone_key, "usr_eve") == 0  # delivered once, to the first
    with pytest.raises(TransferNotCancelable):
        world.invitations.cancel("usr_ann", out.body["transfer_id"])
    [ann_entry] = world.ledger.statement("usr_ann", "wal_usr_ann_eur", 10, None)[0][:1]
    assert ann_entry["status"] == "posted" and ann_entry["counterparty"] == bob_eur
    world.check()


def test_the_sender_cancels_while_unclaimed_and_only_the_sender(world):
    out = world.send("usr_ann", {"email": "friend@example.com", "invite": True})
    tid = out.body["transfer_id"]
    world.person("usr_eve", "eve@example.com", verified=True)
    with pytest.raises(NotFound):
        world.invitations.cancel("usr_eve", tid)
    canceled = world.invitations.cancel("usr_ann", tid)
    assert canceled["status"] == "canceled" and world.wallet("wal_usr_ann") == (5000, 0, 5000)
    with pytest.raises(TransferNotCancelable):
        world.invitations.cancel("usr_ann", tid)
    world.person("usr_fay", "friend@example.com")
    assert world.invitations.deliver(identity_key(email_lookup_key("friend@example.com"), world.mac),
                                     "usr_fay") == 0
    posted = world.send("usr_ann", {"email": "eve@example.com"})
    with pytest.raises(TransferNotCancelable):  # an ordinary transfer is never cancelable
        world.invitations.cancel("usr_ann", posted.body["transfer_id"])
    world.check()


def test_past_the_expiry_the_sweep_returns_the_money_and_a_late_claim_gets_nothing(world):
    out = world.send("usr_ann", {"email": "friend@example.com", "invite": True})
    contact = identity_key(email_lookup_key("friend@example.com"), world.mac)
    world.clock.advance(30 * DAY - 1)
    assert world.invitations.sweep() == {"expired": 0, "delivered": 0, "failed": 0}
    world.clock.advance(1)
    world.person("usr_fay", "friend@example.com")
    assert world.invitations.deliver(contact, "usr_fay") == 0  # at the expiry, too late
    assert world.invitations.sweep() == {"expired": 1, "delivered": 0, "failed": 0}
    assert world.ledger.get_transfer("usr_ann", out.body["transfer_id"])["status"] == "expired"
    assert world.wallet("wal_usr_ann") == (5000, 0, 5000)
    assert world.invitations.sweep()["expired"] == 0
    world.check()


def test_the_sweep_delivers_what_a_crash_after_a_verification_left_waiting(world):
    out = world.send("usr_ann", {"email": "friend@example.com", "invite": True})
    world.person("usr_fay", "friend@example.com", verified=True)  # verified; delivery never ran
    world.book.wallet("wal_usr_fay", "usr_fay")
    assert world.invitations.sweep() == {"expired": 0, "delivered": 1, "failed": 0}
    assert world.wallet("wal_usr_fay") == (1000, 0, 1000)
    assert world.ledger.get_transfer("usr_fay", out.body["transfer_id"])["status"] == "posted"
    world.check()


def test_a_sender_who_verifies_the_contact_themselves_gets_the_money_back(world):
    out = world.send("usr_ann", {"phone": "+6591234567", "invite": True})
    phone_key = identity_key(phone_lookup_key("+6591234567"), world.mac)
    assert world.invitations.deliver(phone_key, "usr_ann") == 1
    assert world.ledger.get_transfer("usr_ann", out.body["transfer_id"])["status"] == "canceled"
    assert world.wallet("wal_usr_ann") == (5000, 0, 5000)
    world.check()


def test_a_failed_announcement_never_fails_the_payment(world):
    class Down(FakeMessenger):
        def send_email(self, to, message):
            raise ConnectionError("SES is down")

    world.invitations.messenger = Down()
    out = world.send("usr_ann", {"email": "friend@example.com", "invite": True})
    assert out.body["status"] == "unclaimed" and world.wallet("wal_usr_ann") == (5000, 1000, 4000)


def test_invitations_are_limited_per_sender_and_messages_per_contact(world):
    for i in range(20):
        world.send("usr_ann", {"email": f"friend{i % 4}@example.com", "invite": True}, amount=1)
    with pytest.raises(TooManyRequests):
        world.send("usr_ann", {"email": "friend9@example.com", "invite": True}, amount=1)
    # Four contacts, five invitations each: each contact was told three times, no more.
    assert len(world.outbox.sent) == 12 and world.wallet("wal_usr_ann") == (5000, 20, 4980)
    # The counters name contacts by their keyed hash only, never the address.
    counted = " ".join(world.invitations.announce_limit.counters.rows)  # type: ignore[union-attr,attr-defined]
    assert "invited#email#" in counted and "friend" not in counted and "example" not in counted
    world.check()


def test_an_invitation_names_the_sender_without_anything_of_theirs_that_could_mislead():
    assert display_name("Ann", "Lee") == "Ann Lee" and display_name("J. R.", "O'Neil-Smith") == "J. R. O'Neil-Smith"
    assert display_name("Visit http://evil.example/x?a=1", None) == "Visit httpevilexamplexa"
    assert display_name("\n\nYour account is locked", "call +1 555 0100") == "Your account is locked call"
    assert display_name(None, None) == display_name("1234", "!!") == "Someone"
