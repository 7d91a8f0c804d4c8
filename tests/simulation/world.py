"""The wallet's real services over in-memory models of DynamoDB and Stripe, with the fault
injector between every service and every port (docs/simulation.md)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters.crypto import BlindIndex
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.contact import email_lookup_key, identity_key
from chalicelib.domain.errors import Conflict
from chalicelib.domain.funding import FundingProfile, PaymentMethod, TopUp, Withdrawal
from chalicelib.domain.ids import new_id, rfc3339
from chalicelib.domain.invitation import Invitation
from chalicelib.domain.ledger import DuplicateRequest
from chalicelib.domain.unit_of_work import AccountStatusChange, Audited
from chalicelib.domain.user import NewWallet, User
from chalicelib.domain.wallet import Transfer, Wallet
from chalicelib.services.funding import Funding
from chalicelib.services.invitations import Invitations
from chalicelib.services.ledger import Ledger, LedgerPolicy
from chalicelib.services.lockout import Lockout
from chalicelib.services.payment_requests import PaymentRequests
from chalicelib.services.reconcile import Report, reconcile
from chalicelib.services.stripe_events import apply_event
from tests.fakes import Clock, FakeCounters, FakeMessenger, FakeStripeEventLog, FakeUsers, PlainCipher
from tests.fakes_money import FakeBook, FakeFundingRepo, FakeLedgerStore, FakeRequests
from tests.simulation.faults import Faulty, Injector
from tests.simulation.stripe_model import StripeModel

KEY = "A" * 43 + "="
DAY = 86400
START = 1_900_000_000.0  # a fixed instant: a seed replays the same run, dates included
PEOPLE = 4
NEWCOMERS = ("new0@example.com", "new1@example.com")  # contacts nobody has verified yet
ACCOUNTS = ("stripe_clearing", "disputes", "payouts", "invitations")


class ClaimLog(FakeFundingRepo):
    """The funding records, noting when each Stripe call was claimed (for the freeze invariant)."""

    def __init__(self, world: World) -> None:
        super().__init__(world.book)
        self.world = world

    def mark_attempt(self, withdrawal_id: str, user_id: str, call: str, when: float,
                     first: float | None = None) -> bool:
        claimed = super().mark_attempt(withdrawal_id, user_id, call, when, first)
        if claimed:
            self.world.seq += 1
            self.world.claims[(withdrawal_id, call)] = self.world.seq
        return claimed


class Yes:
    """The second factor always answers yes: its own rules are tested in tests/unit/test_mfa.py."""

    def require(self, user_id: str, otp: Any) -> None:
        return None


@dataclass
class World:
    platform_payouts: bool
    failed_refund_lowers_total: bool
    clock: Clock = field(default_factory=lambda: Clock(START))
    book: FakeBook = field(default_factory=FakeBook)
    users: FakeUsers = field(default_factory=FakeUsers)
    injector: Injector = field(default_factory=Injector)
    event_log: FakeStripeEventLog = field(default_factory=FakeStripeEventLog)
    mac: BlindIndex = field(default_factory=lambda: BlindIndex(KEY))
    seq: int = 0  # orders freezes and claims of Stripe calls as their writes committed
    frozen_at: dict[str, int] = field(default_factory=dict)
    claims: dict[tuple[str, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cipher, counters, inj = PlainCipher(), FakeCounters(), self.injector
        self.stripe = StripeModel(self.clock, self.platform_payouts, self.failed_refund_lowers_total,
                                  asked_after_freeze=self.asked_after_freeze)
        self.store_raw = FakeLedgerStore(self.book, users=self.users)
        store: Any = Faulty(self.store_raw, "dynamodb", inj)
        users: Any = Faulty(self.users, "dynamodb", inj)
        self.ledger = Ledger(store=store, users=users, blind_index=self.mac, cipher=cipher,
                             policy=LedgerPolicy(("USD", "EUR"), "USD", invite_ttl_seconds=30 * DAY), now=self.clock,
                             invite_limit=Lockout(counters, 10_000, 3600))
        self.invitations = Invitations(ledger=self.ledger, store=store, users=users, messenger=FakeMessenger(),
                                       cipher=cipher, now=self.clock, announce_limit=Lockout(counters, 10_000, DAY))
        self.ledger.announce = self.invitations.announce
        self.requests = PaymentRequests(ledger=self.ledger, store=store, requests=FakeRequests(self.book),
                                        users=users, cipher=cipher, create_limit=None, now=self.clock)
        self.funding = Funding(repo=Faulty(ClaimLog(self), "dynamodb", inj),
                               gateway=Faulty(self.stripe, "stripe", inj), ledger=self.ledger, mfa=Yes(),
                               cipher=cipher, now=self.clock)
        self.events = Faulty(self.event_log, "dynamodb", inj)
        for i in range(PEOPLE):
            self.register(f"usr_{i}", f"p{i}@example.com", verified=True)

    # -- people -------------------------------------------------------------------------------
    def email_key(self, email: str) -> str:
        return identity_key(email_lookup_key(email), self.mac)

    def register(self, user_id: str, email: str, *, verified: bool) -> None:
        key = self.email_key(email)
        wallet_id = f"wal_{user_id}"
        self.users.create(User(user_id=user_id, created_at=rfc3339(self.clock())), [key],
                          NewWallet(wallet_id, user_id, "USD", "Main", "t"), verified=(key,) if verified else ())
        self.book.wallet(wallet_id, user_id)
        self.book.profiles[user_id] = FundingProfile(user_id, f"cus_{user_id}", f"acct_{user_id}", "enabled")
        self.book.payment_methods[f"pmt_{user_id}"] = PaymentMethod(f"pmt_{user_id}", user_id, f"pm_{user_id}",
                                                                    "card", "ct", "t")

    def verify(self, user_id: str, email: str) -> None:
        """What ContactVerification does once the code matches: the contact becomes the
        user's, then the money waiting for it is delivered (the sweep finishes after a crash)."""
        key = self.email_key(email)
        if key not in self.users.verified:
            self.users.confirm_email(user_id, key, None)
        self.invitations.deliver(key, user_id)

    # -- operators ----------------------------------------------------------------------------
    def set_status(self, user_id: str, status: str) -> None:
        """An operator's freeze or unfreeze, as `python -m ops` writes it (with its audit)."""
        current = self.book.profiles[user_id].status
        if current == status:
            return
        try:
            self.ledger.store.write(Audited(AccountStatusChange(user_id, status, from_=current),
                                            self.audit("freeze" if status == "frozen" else "unfreeze", user_id)),
                                    now=rfc3339(self.clock()))
        except DuplicateRequest:  # what Operations.set_frozen answers: changed meanwhile
            raise Conflict("The account changed meanwhile; run the command again.") from None
        self.seq += 1
        if status == "frozen":
            self.frozen_at[user_id] = self.seq
        else:
            self.frozen_at.pop(user_id, None)

    def asked_after_freeze(self, user_id: str, withdrawal_id: str, call: str) -> bool:
        """Stripe is asked to send a frozen account's money out: fine only if the call was
        claimed before the freeze committed (a claim and a freeze are ordered by their
        transactions; the call itself cannot be part of one)."""
        frozen_at = self.frozen_at.get(user_id)
        return frozen_at is not None and self.claims.get((withdrawal_id, call), frozen_at + 1) > frozen_at

    # -- Stripe events through the events Lambda's own path --------------------------------------
    def apply(self, event: dict[str, Any]) -> None:
        apply_event(json.dumps(event), self.events, self.funding)

    def audit(self, command: str, target: str) -> AuditEntry:
        return AuditEntry(new_id("aud"), rfc3339(self.clock()), "simulator", command, target, "done", "ct")

    # -- reads for the invariants (never through the injector) ---------------------------------
    # Every world (these fakes, or DynamoDB Local) answers these the same way: the machine's
    # invariants read nothing else.
    def known_user(self, user_id: str) -> bool:
        return user_id in self.users.users

    def wallets(self) -> list[Wallet]:
        return list(self.book.wallets.values())

    def transfer(self, transfer_id: str) -> Transfer | None:
        return self.book.transfers.get(transfer_id)

    def withdrawals(self) -> dict[str, Withdrawal]:
        return dict(self.book.withdrawals)

    def invitation_records(self) -> dict[str, Invitation]:
        return dict(self.book.invitations)

    def topups(self) -> list[TopUp]:
        return list(self.book.topups.values())

    def reconcile(self) -> Report:
        return reconcile(self.store_raw)

    def system_balance(self, account: str, currency: str) -> int:
        return sum(w.balance for w in self.book.wallets.values()
                   if w.wallet_id.startswith(f"sys:{account}:{currency}:"))
