"""The wallet's real services over in-memory models of DynamoDB and Stripe, with the fault
injector between every service and every port (docs/simulation.md)."""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.adapters.crypto import BlindIndex
from chalicelib.adapters.offline_keys import OfflineKeys
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.contact import email_lookup_key, identity_key
from chalicelib.domain.errors import Conflict
from chalicelib.domain.funding import PaymentMethod, TopUp, Withdrawal
from chalicelib.domain.ids import new_id, rfc3339
from chalicelib.domain.invitation import Invitation
from chalicelib.domain.ledger import DuplicateRequest
from chalicelib.domain.offline import Allowance, Device, OfflinePolicy, Redemption
from chalicelib.domain.unit_of_work import AccountStatusChange, Audited
from chalicelib.domain.user import NewWallet, User
from chalicelib.domain.wallet import Transfer, Wallet
from chalicelib.services.exchange import ExchangePolicy, Exchanges, refresh_rates
from chalicelib.services.funding import Funding
from chalicelib.services.invitations import Invitations
from chalicelib.services.ledger import Ledger, LedgerPolicy
from chalicelib.services.lockout import Lockout
from chalicelib.services.offline import AllowanceRelease, Offline
from chalicelib.services.payment_requests import PaymentRequests
from chalicelib.services.reconcile import Report, reconcile
from chalicelib.services.stripe_events import apply_event
from tests.fakes import Clock, FakeCounters, FakeMessenger, FakeStripeEventLog, FakeUsers, PlainCipher
from tests.fakes_fx import FakeFx
from tests.fakes_money import FakeBook, FakeFundingRepo, FakeLedgerStore, FakeRequests
from tests.fakes_offline import FakeOfflineStore
from tests.simulation.faults import Faulty, Injector
from tests.simulation.stripe_model import StripeModel

KEY = "A" * 43 + "="
DAY = 86400
START = 1_900_000_000.0  # a fixed instant: a seed replays the same run, dates included
PEOPLE = 4
NEWCOMERS = 2  # contacts nobody has verified yet
ACCOUNTS = ("stripe_clearing", "disputes", "payouts", "invitations")


class ClaimLog:
    """The funding records, noting when each Stripe call was claimed (for the freeze invariant)."""

    def __init__(self, repo: Any, world: World) -> None:
        self._repo, self.world = repo, world

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    def mark_attempt(self, withdrawal_id: str, user_id: str, call: str, when: float,
                     first: float | None = None) -> bool:
        claimed = bool(self._repo.mark_attempt(withdrawal_id, user_id, call, when, first))
        if claimed:
            self.world.seq += 1
            self.world.claims[(withdrawal_id, call)] = self.world.seq
        return claimed


class Yes:
    """The second factor always answers yes: its own rules are tested in tests/unit/test_mfa.py."""

    def require(self, user_id: str, otp: Any, **_where: Any) -> None:
        return None


@dataclass
class Ports:
    """The storage the services are given: these fakes, or the DynamoDB adapters."""

    ledger: Any  # LedgerStore (with the reconciliation scans)
    users: Any  # UserDirectory
    funding: Any  # FundingRepository
    requests: Any  # PaymentRequestStore
    events: Any  # StripeEventLog
    offline: Any  # OfflineStore (with the reconciliation scans)
    fx: Any = None  # FxStore (docs/exchange.md), booking into `ledger`


def device_key(person: int) -> Ed25519PrivateKey:
    """Each person's phone key: fixed, so that a seed replays the same signatures."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"device {person}".encode()).digest())


def _offline_pem() -> str:
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"offline key").digest())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@dataclass
class World:
    platform_payouts: bool
    failed_refund_lowers_total: bool
    clock: Clock = field(default_factory=lambda: Clock(START))
    injector: Injector = field(default_factory=Injector)
    mac: BlindIndex = field(default_factory=lambda: BlindIndex(KEY))
    seq: int = 0  # orders freezes and claims of Stripe calls as their writes committed
    frozen_at: dict[str, int] = field(default_factory=dict)
    claims: dict[tuple[str, str], int] = field(default_factory=dict)
    devices: dict[int, str] = field(default_factory=dict)  # person -> their registered phone
    tag: str = ""  # in every id and address of this run (runs sharing one DynamoDB Local differ)

    def __post_init__(self) -> None:
        cipher, counters, inj = PlainCipher(), FakeCounters(), self.injector
        self.stripe = StripeModel(self.clock, self.platform_payouts, self.failed_refund_lowers_total,
                                  asked_after_freeze=self.asked_after_freeze)
        self.raw = self.ports()
        store: Any = Faulty(self.raw.ledger, "dynamodb", inj)
        users: Any = Faulty(self.raw.users, "dynamodb", inj)
        self.ledger = Ledger(store=store, users=users, blind_index=self.mac, cipher=cipher,
                             policy=LedgerPolicy(("USD", "EUR"), "USD", invite_ttl_seconds=30 * DAY), now=self.clock,
                             invite_limit=Lockout(counters, 10_000, 3600))
        self.invitations = Invitations(ledger=self.ledger, store=store, users=users, messenger=FakeMessenger(),
                                       cipher=cipher, now=self.clock, announce_limit=Lockout(counters, 10_000, DAY))
        self.ledger.announce = self.invitations.announce
        self.requests = PaymentRequests(ledger=self.ledger, store=store, requests=self.raw.requests,
                                        users=users, cipher=cipher, create_limit=None, now=self.clock)
        self.funding = Funding(repo=Faulty(ClaimLog(self.raw.funding, self), "dynamodb", inj),
                               gateway=Faulty(self.stripe, "stripe", inj), ledger=self.ledger, mfa=Yes(),
                               cipher=cipher, now=self.clock)
        self.events = Faulty(self.raw.events, "dynamodb", inj)
        offline_store: Any = Faulty(self.raw.offline, "dynamodb", inj)
        self.offline = Offline(store=offline_store, ledger=self.ledger, ledger_store=store,
                               signer=OfflineKeys(_offline_pem()), mfa=Yes(), cipher=cipher, policy=OfflinePolicy(),
                               issuer="https://wallet.example", now=self.clock)
        self.release = AllowanceRelease(store=offline_store, ledger_store=store, now=self.clock)
        self.exchanges = Exchanges(ledger=self.ledger, fx=Faulty(self.raw.fx, "dynamodb", inj), policy=ExchangePolicy(),
                                   now=self.clock)
        self.ledger.quoted = self.exchanges.pay
        for i in range(PEOPLE):
            self.register(self.user(i), self.email(i), verified=True)
            public = base64.urlsafe_b64encode(device_key(i).public_key().public_bytes_raw()).rstrip(b"=").decode()
            self.devices[i] = self.offline.register_device(self.user(i), public, None)["device_id"]

    def ports(self) -> Ports:
        self.book = FakeBook()
        self.users = FakeUsers()
        ledger = FakeLedgerStore(self.book, users=self.users)
        return Ports(ledger=ledger, users=self.users, funding=FakeFundingRepo(self.book),
                     requests=FakeRequests(self.book), events=FakeStripeEventLog(), offline=FakeOfflineStore(self.book),
                     fx=FakeFx(ledger))

    # -- people -------------------------------------------------------------------------------
    def user(self, person: int | str) -> str:
        return f"usr_{self.tag}{person}"

    def wallet(self, person: int) -> str:
        return f"wal_{self.user(person)}"

    def card(self, person: int) -> str:
        return f"pmt_{self.user(person)}"

    def email(self, person: int) -> str:
        return f"p{person}{self.tag}@example.com"

    def newcomer(self, contact: int) -> str:
        return f"new{contact}{self.tag}@example.com"

    def email_key(self, email: str) -> str:
        return identity_key(email_lookup_key(email), self.mac)

    def register(self, user_id: str, email: str, *, verified: bool) -> None:
        """A person who signed up, with a customer, a card and a payout account at Stripe."""
        key = self.email_key(email)
        wallet_id = f"wal_{user_id}"  # as wallet(person)
        self.raw.users.create(User(user_id=user_id, created_at=rfc3339(self.clock())), [key],
                              NewWallet(wallet_id, user_id, "USD", "Main", rfc3339(self.clock())),
                              verified=(key,) if verified else ())
        self.opened(wallet_id, user_id)
        repo = self.raw.funding
        repo.set_customer(user_id, f"cus_{user_id}")
        repo.set_payout_account(user_id, f"acct_{user_id}", "enabled")
        repo.add_payment_method(PaymentMethod(f"pmt_{user_id}", user_id, f"pm_{user_id}", "card", "ct", "t"))

    def opened(self, wallet_id: str, user_id: str) -> None:
        """The fake directory keeps no wallets: the book opens the one DynamoDB's sign-up writes."""
        self.book.wallet(wallet_id, user_id)

    def verify(self, user_id: str, email: str) -> None:
        """What ContactVerification does once the code matches: the contact becomes the
        user's, then the money waiting for it is delivered (the sweep finishes after a crash)."""
        key = self.email_key(email)
        if self.raw.users.verified_user_for(key) is None:
            self.raw.users.confirm_email(user_id, key, None)
        self.invitations.deliver(key, user_id)

    # -- operators ----------------------------------------------------------------------------
    def set_status(self, user_id: str, status: str) -> None:
        """An operator's freeze or unfreeze, as `python -m ops` writes it (with its audit)."""
        current = self.raw.funding.user(user_id).status
        if current == status:
            return
        try:
            self.ledger.store.write(Audited(AccountStatusChange(user_id, status, from_=current),
                                            self.audit("freeze" if status == "frozen" else "unfreeze", user_id)),
                                    now=rfc3339(self.clock()))
        except DuplicateRequest:  # what Operations.set_frozen answers: changed meanwhile
            raise Conflict("The account changed meanwhile; run the command again.") from None
        finally:
            # The oracle follows what committed, not what was answered: an answer lost after
            # the write still froze (or unfroze) the account.
            if self.raw.funding.user(user_id).status == status:
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
        return self.raw.users.get(user_id) is not None

    def wallets(self) -> list[Wallet]:
        return list(self.raw.ledger.scan_wallets())

    def transfer(self, transfer_id: str) -> Transfer | None:
        return self.raw.ledger.get_transfer(transfer_id)

    def withdrawals(self) -> dict[str, Withdrawal]:
        return dict(self.book.withdrawals)

    def invitation_records(self) -> dict[str, Invitation]:
        return dict(self.book.invitations)

    def topups(self) -> list[TopUp]:
        return list(self.book.topups.values())

    def allowances(self) -> list[Allowance]:
        return list(self.raw.offline.scan_allowances())

    def redemptions(self) -> list[Redemption]:
        return list(self.raw.offline.scan_redemptions())

    def device(self, person: int) -> Device | None:
        return self.raw.offline.device(self.devices[person])

    def reconcile(self) -> Report:
        return reconcile(self.raw.ledger, offline=self.raw.offline)

    def fetch_rates(self) -> None:
        """The scheduled fetch of the reference rates, as the ECB publishes them on the clock's day."""
        from devstack.fx_rates import ecb_daily_xml

        day = datetime.fromtimestamp(self.clock(), tz=UTC).strftime("%Y-%m-%d")
        refresh_rates(self.raw.fx, lambda: ecb_daily_xml(day).encode(), now=self.clock)

    def system_balance(self, account: str, currency: str) -> int:
        return sum(w.balance for w in self.wallets() if w.wallet_id.startswith(f"sys:{account}:{currency}:"))
