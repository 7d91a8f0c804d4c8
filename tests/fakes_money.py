"""In-memory fakes of the money ports (the cosmicpython way: behaviour, not mocks).

`FakeBook` is one in-memory database behind the ledger store and the funding repository, so that
a movement and what is written with it (a withdrawal, its status, a top-up's running total)
commit together or not at all, with the same conditions as the DynamoDB adapter: every check
first, then every write. `reconcile()` runs on it like on DynamoDB.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.domain.errors import AccountFrozen, InvalidRequest, NotFound, RequestNotPending
from chalicelib.domain.funding import FundingProfile, PaymentMethod, TopUp, Withdrawal
from chalicelib.domain.invitation import Invitation
from chalicelib.domain.ledger import (
    CurrencyMismatch,
    DailyLimit,
    DuplicateRequest,
    IdempotencyPut,
    InsufficientFunds,
    LimitExceeded,
    Movement,
    RecipientNotFound,
)
from chalicelib.domain.offline import Allowance, Device, DeviceInactive, DoubleSpend, Redemption
from chalicelib.domain.payment_request import PaymentRequest, RequestOutcome
from chalicelib.domain.unit_of_work import (
    AccountStatusChange,
    AllowanceClosed,
    Audited,
    InvitationOutcome,
    NewAllowance,
    NewWithdrawal,
    TopUpTotal,
    WithdrawalStatusChange,
    WrittenWith,
)
from chalicelib.domain.user import NewWallet
from chalicelib.domain.wallet import (
    Entry,
    IdempotentResponse,
    PaymentReads,
    Transfer,
    Wallet,
    is_system_wallet,
    system_wallet_id,
)


@dataclass
class FakeBook:
    wallets: dict[str, Wallet] = field(default_factory=dict)
    defaults: dict[tuple[str, str], str] = field(default_factory=dict)
    transfers: dict[str, Transfer] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    idempotency: dict[str, IdempotentResponse] = field(default_factory=dict)
    daily: dict[str, int] = field(default_factory=dict)
    profiles: dict[str, FundingProfile] = field(default_factory=dict)
    payment_methods: dict[str, PaymentMethod] = field(default_factory=dict)
    topups: dict[str, TopUp] = field(default_factory=dict)
    withdrawals: dict[str, Withdrawal] = field(default_factory=dict)
    invitations: dict[str, Invitation] = field(default_factory=dict)
    requests: dict[str, PaymentRequest] = field(default_factory=dict)
    audit: list[Any] = field(default_factory=list)  # operators' audit entries, in commit order
    # Offline payments (tests/fakes_offline.py); the outstanding counters live in `daily`.
    devices: dict[str, Device] = field(default_factory=dict)
    allowances: dict[str, Allowance] = field(default_factory=dict)
    redemptions: dict[tuple[str, int], Redemption] = field(default_factory=dict)
    double_spends: dict[str, DoubleSpend] = field(default_factory=dict)

    def frozen(self, user_id: str) -> bool:
        p = self.profiles.get(user_id)
        return p is None or p.status in ("frozen", "closed")  # no outflow, like the status item's check

    def wallet(self, wallet_id: str, owner: str, currency: str = "USD", balance: int = 0) -> str:
        # A wallet's owner is an account (the product makes both in one transaction); one with
        # no account could send nothing (frozen above).
        self.profiles.setdefault(owner, FundingProfile(owner))
        self.wallets[wallet_id] = Wallet(wallet_id, owner, currency, "Main", balance, 0, balance, "active", "user",
                                         True, "2026-01-01T00:00:00.000Z")
        self.defaults[(owner, currency)] = wallet_id
        return wallet_id


class FakeLedgerStore:
    def __init__(self, book: FakeBook, users: Any = None, sessions: Any = None) -> None:
        self.b = book
        self._seq = itertools.count(1)
        # The fake directory and session store the DynamoDB adapter reads in `payment_reads`.
        self.users, self.sessions = users, sessions

    # -- reads ----------------------------------------------------------------------------------
    def get_wallet(self, wallet_id: str) -> Wallet | None:
        return self.b.wallets.get(wallet_id)

    def wallets_of(self, owner_id: str) -> list[Wallet]:
        return [w for w in self.b.wallets.values() if w.owner_id == owner_id]

    def default_wallet_id(self, owner_id: str, currency: str) -> str | None:
        return self.b.defaults.get((owner_id, currency))

    def open_wallet(self, wallet: NewWallet) -> str | None:
        if wallet.is_default and (wallet.owner_id, wallet.currency) in self.b.defaults:
            return None
        if wallet.wallet_id in self.b.wallets:  # DynamoDB's condition: attribute_not_exists
            raise AssertionError(f"wallet {wallet.wallet_id} exists")
        self.b.wallets[wallet.wallet_id] = Wallet(wallet.wallet_id, wallet.owner_id, wallet.currency, wallet.name,
                                                  0, 0, 0, "active", "user", wallet.is_default, wallet.created_at)
        if wallet.is_default:
            self.b.defaults[(wallet.owner_id, wallet.currency)] = wallet.wallet_id
        return wallet.wallet_id

    def system_shard(self, account: str, currency: str) -> str:
        return system_wallet_id(account, currency, 0)

    def spread_credits(self, main: Wallet, shards: int, now: str, record: WrittenWith | None = None) -> None:
        # In memory there is no hot item: the wallet is marked, its credits stay on it. Only the
        # count is written, on the wallet as it is now (as the adapter's SET does): `main` was
        # read before, and writing it back would undo whatever moved the balance meanwhile.
        current = self.b.wallets[main.wallet_id]
        if current.kind != "user" or shards < current.credit_shards:
            raise InvalidRequest("The wallet's credit shards cannot shrink.")
        self.b.wallets[main.wallet_id] = replace(current, credit_shards=shards)

    def sweep(self, wallet_id: str) -> int:
        return 0

    def get_transfer(self, transfer_id: str) -> Transfer | None:
        return self.b.transfers.get(transfer_id)

    def get_idempotency(self, key: str) -> IdempotentResponse | None:
        return self.b.idempotency.get(key)

    def payment_reads(self, *, transfer_id: str, source_wallet: str, session_id: str | None = None,
                      recipient_wallet: str | None = None, contact_key: str | None = None) -> PaymentReads:
        if (contact_key and self.users is None) or (session_id and self.sessions is None):
            raise AssertionError("FakeLedgerStore(users=..., sessions=...): this payment reads them")
        return PaymentReads(
            session=self.sessions.get(session_id) if session_id else None,
            earlier=self.get_transfer(transfer_id), source=self.get_wallet(source_wallet),
            recipient=self.get_wallet(recipient_wallet) if recipient_wallet else None,
            contact_owner=self.users.verified_user_for(contact_key) if contact_key else None)

    def entries(self, wallet_id: str, limit: int, cursor: str | None = None) -> tuple[list[Entry], str | None]:
        mine = sorted((e for e in self.b.entries if e.wallet_id == wallet_id), key=lambda e: e.sk, reverse=True)
        return mine[:limit], None

    def get_invitation(self, transfer_id: str) -> Invitation | None:
        return self.b.invitations.get(transfer_id)

    def invitations_for(self, contact_key: str) -> list[Invitation]:
        return [i for i in self.b.invitations.values() if i.contact_key == contact_key and i.status == "unclaimed"]

    def unclaimed_invitations(self) -> list[Invitation]:
        return sorted((i for i in self.b.invitations.values() if i.status == "unclaimed"),
                      key=lambda i: i.expires_at)

    def scan_wallets(self) -> list[Wallet]:
        return list(self.b.wallets.values())

    def scan_transfers(self) -> list[Transfer]:
        return list(self.b.transfers.values())

    def scan_entries(self) -> list[Entry]:
        return list(self.b.entries)

    # -- writes: every condition first, then every change ---------------------------------------
    def move(self, m: Movement, *, now: str, now_ms: int, memo_ct: str | None = None,
             request_hash: str | None = None, idempotency: IdempotencyPut | None = None,
             daily: DailyLimit | None = None, record: WrittenWith | None = None,
             answers_retries: bool = False) -> None:
        self._check(m, idempotency, daily, record, hold=False)
        self._write(m, "posted", now, idempotency, daily, record, memo_ct=memo_ct, request_hash=request_hash,
                    answers_retries=answers_retries)

    def hold(self, m: Movement, *, now: str, now_ms: int, idempotency: IdempotencyPut | None = None,
             daily: DailyLimit | None = None, record: WrittenWith | None = None, memo_ct: str | None = None,
             request_hash: str | None = None) -> None:
        self._check(m, idempotency, daily, record, hold=True)
        self._write(m, "pending", now, idempotency, daily, record)

    def resolve_hold(self, transfer: Transfer, *, post: bool, now: str, now_ms: int,
                     record: WrittenWith | None = None, to: tuple[str, str] | None = None) -> bool:
        t = self.b.transfers.get(transfer.transfer_id)
        if t is None or t.status != "pending" or (record is not None and not self._companion_ok(record)):
            return False
        if post and to is not None:
            if self.b.frozen(t.from_owner):
                raise AccountFrozen()
            dst = self.b.wallets.get(to[0])
            if dst is None or dst.status != "active" or dst.currency != t.currency:
                return False
            t = replace(t, to_wallet_id=to[0], to_owner=to[1])
        # The amount the caller names, as the DynamoDB adapter does (an allowance's release voids
        # what is left of its hold), on its condition that the wallet holds that much.
        a = transfer.amount
        src = self.b.wallets[t.from_wallet_id]
        if src.held < a:
            return False
        if post:
            self._set(src, balance=src.balance - a, held=src.held - a)
            self._credit(t.to_wallet_id, a, t.currency)
            self.b.entries.append(Entry(t.to_wallet_id, self._sk(t.transfer_id, "c"), t.transfer_id, t.type,
                                        "credit", a, t.currency, "posted", t.from_wallet_id, now))
        else:
            self._set(src, held=src.held - a, available=src.available + a)
        status = "posted" if post else "voided"
        self.b.transfers[t.transfer_id] = replace(t, status=status)
        self.b.entries = [replace(e, status=status, counterparty_wallet_id=t.to_wallet_id if post
                                  else e.counterparty_wallet_id)
                          if e.transfer_id == t.transfer_id and e.direction == "debit" else e for e in self.b.entries]
        if record is not None:
            self._apply_companion(record)
        return True

    def _check(self, m: Movement, idem: IdempotencyPut | None, daily: DailyLimit | None,
               record: WrittenWith | None, *, hold: bool) -> None:
        if m.transfer_id in self.b.transfers or (idem and idem.key in self.b.idempotency):
            raise DuplicateRequest()
        if record is not None:
            self._check_companion(record)
        if m.by_owner and self.b.frozen(m.from_owner):
            raise AccountFrozen()
        if daily and self.b.daily.get(daily.key, 0) + m.amount.amount > daily.limit:
            raise LimitExceeded()
        if not is_system_wallet(m.from_wallet):
            src = self.b.wallets.get(m.from_wallet)
            if src is None or src.status != "active" or src.kind != "user":
                raise NotFound("The wallet was not found.")
            if src.currency != m.amount.currency:
                raise CurrencyMismatch()
            if src.available < m.amount.amount:
                raise InsufficientFunds()
        if not hold and not is_system_wallet(m.to_wallet):
            dst = self.b.wallets.get(m.to_wallet)
            if dst is None or dst.status != "active":
                raise RecipientNotFound()
            if dst.currency != m.amount.currency:
                raise CurrencyMismatch()

    def _write(self, m: Movement, status: str, now: str, idem: IdempotencyPut | None, daily: DailyLimit | None,
               record: WrittenWith | None, *, memo_ct: str | None = None, request_hash: str | None = None,
               answers_retries: bool = False) -> None:
        a, cur = m.amount.amount, m.amount.currency
        debit_sk = self._sk(m.transfer_id, "d")
        if is_system_wallet(m.from_wallet):
            self._credit(m.from_wallet, -a, cur)
        else:
            src = self.b.wallets[m.from_wallet]
            if status == "pending":
                self._set(src, held=src.held + a, available=src.available - a)
            else:
                self._set(src, balance=src.balance - a, available=src.available - a)
        self.b.transfers[m.transfer_id] = Transfer(m.transfer_id, m.type, status, m.from_wallet, m.to_wallet,
                                                   m.from_owner, m.to_owner, a, cur, memo_ct, now, debit_sk,
                                                   request_hash=request_hash, answers_retries=answers_retries)
        self.b.entries.append(Entry(m.from_wallet, debit_sk, m.transfer_id, m.type, "debit", a, cur, status,
                                    m.to_wallet, now))
        if status == "posted":
            self._credit(m.to_wallet, a, cur)
            self.b.entries.append(Entry(m.to_wallet, self._sk(m.transfer_id, "c"), m.transfer_id, m.type, "credit",
                                        a, cur, "posted", m.from_wallet, now))
        if idem:
            self.b.idempotency[idem.key] = IdempotentResponse(idem.request_hash, idem.status_code, idem.response_ct,
                                                              idem.resource_id)
        if daily:
            self.b.daily[daily.key] = self.b.daily.get(daily.key, 0) + a
        if record is not None:
            self._apply_companion(record)

    def _credit(self, wallet_id: str, amount: int, currency: str) -> None:
        w = self.b.wallets.get(wallet_id)
        if w is None:  # a system shard, made on first use like the DynamoDB one
            w = Wallet(wallet_id, "system", currency, wallet_id, 0, 0, 0, "active", "system", False, "t")
        self.b.wallets[wallet_id] = replace(w, balance=w.balance + amount, available=w.available + amount)

    def _set(self, w: Wallet, **changes: Any) -> None:
        self.b.wallets[w.wallet_id] = replace(w, **changes)

    def _sk(self, transfer_id: str, leg: str) -> str:
        return f"{next(self._seq):013d}#{transfer_id}#{leg}"

    def write(self, record: WrittenWith | None, *, now: str, idempotency: IdempotencyPut | None = None) -> None:
        if idempotency and idempotency.key in self.b.idempotency:
            raise DuplicateRequest()
        if record is not None:
            if not self._companion_ok(record):
                raise RequestNotPending() if isinstance(record, RequestOutcome) else DuplicateRequest()
            self._apply_companion(record)
        if idempotency:
            self.b.idempotency[idempotency.key] = IdempotentResponse(
                idempotency.request_hash, idempotency.status_code, idempotency.response_ct, idempotency.resource_id)

    # -- what is written with the money ---------------------------------------------------------
    def _companion_ok(self, v: WrittenWith) -> bool:
        if isinstance(v, NewWithdrawal):
            return v.withdrawal_id not in self.b.withdrawals
        if isinstance(v, WithdrawalStatusChange):
            w = self.b.withdrawals.get(v.withdrawal_id)
            return w is not None and w.status in v.from_
        if isinstance(v, Invitation):
            return v.transfer_id not in self.b.invitations
        if isinstance(v, InvitationOutcome):
            i = self.b.invitations.get(v.transfer_id)
            return i is not None and i.status == "unclaimed" and {
                "posted": i.expires_at > v.at, "expired": i.expires_at <= v.at,
                "canceled": i.sender_id == v.by}[v.status]
        if isinstance(v, PaymentRequest):
            return v.request_id not in self.b.requests
        if isinstance(v, RequestOutcome):
            r = self.b.requests.get(v.request_id)
            return r is not None and r.status == "pending" and (
                r.expires_at <= v.at if v.status == "expired" else r.expires_at > v.at and v.by == (
                    r.requester_id if v.status == "canceled" else r.payer_id))
        if isinstance(v, Audited):
            return v.change is None or self._companion_ok(v.change)
        if isinstance(v, AccountStatusChange):
            p = self.b.profiles.get(v.user_id)
            return p is not None and p.status == v.from_
        if isinstance(v, NewAllowance):
            try:
                self._allowance_ok(v)
            except (DuplicateRequest, DeviceInactive, LimitExceeded):
                return False
            return True
        if isinstance(v, AllowanceClosed):
            a = self.b.allowances.get(v.allowance_id)
            return a is not None and a.status == "open" and a.spent == v.spent and a.release_at <= v.at
        t = self.b.topups.get(v.topup_id)
        return (t is not None and int(getattr(t, v.attribute) or 0) == v.old
                and (not v.at_most_refunded or t.refunded >= v.new))

    def _check_companion(self, record: WrittenWith) -> None:
        if isinstance(record, NewAllowance):  # the adapter's order: record, device, counter
            self._allowance_ok(record)
        elif not self._companion_ok(record):
            raise RequestNotPending() if isinstance(record, RequestOutcome) else DuplicateRequest()

    def _allowance_ok(self, v: NewAllowance) -> None:
        if v.allowance.allowance_id in self.b.allowances:
            raise DuplicateRequest()
        device = self.b.devices.get(v.device.device_id)
        if device is None or device.status != "active" or device.user_id != v.device.user_id:
            raise DeviceInactive()
        if self.b.daily.get(v.outstanding.key, 0) + v.allowance.amount > v.outstanding.limit:
            raise LimitExceeded()

    def _apply_companion(self, v: WrittenWith) -> None:
        if isinstance(v, Audited):
            if v.change is not None:
                self._apply_companion(v.change)
            self.b.audit.append(v.entry)
        elif isinstance(v, AccountStatusChange):
            self.b.profiles[v.user_id] = replace(self.b.profiles[v.user_id], status=v.status)
        elif isinstance(v, NewWithdrawal):
            self.b.withdrawals[v.withdrawal_id] = Withdrawal(v.withdrawal_id, v.user_id, v.wallet_id, v.amount,
                                                             v.currency, "pending", v.request_hash, v.created_at)
        elif isinstance(v, WithdrawalStatusChange):
            self.b.withdrawals[v.withdrawal_id] = replace(self.b.withdrawals[v.withdrawal_id], status=v.status)
        elif isinstance(v, Invitation):
            self.b.invitations[v.transfer_id] = v
        elif isinstance(v, InvitationOutcome):
            self.b.invitations[v.transfer_id] = replace(
                self.b.invitations[v.transfer_id], status=v.status,
                claimed_by=v.by if v.status == "posted" else None)
        elif isinstance(v, PaymentRequest):
            self.b.requests[v.request_id] = v
        elif isinstance(v, RequestOutcome):
            self.b.requests[v.request_id] = replace(self.b.requests[v.request_id], status=v.status,
                                                    transfer_id=v.transfer_id)
        elif isinstance(v, NewAllowance):
            self.b.allowances[v.allowance.allowance_id] = v.allowance
            key = v.outstanding.key
            self.b.daily[key] = self.b.daily.get(key, 0) + v.allowance.amount
        elif isinstance(v, AllowanceClosed):
            self.b.allowances[v.allowance_id] = replace(self.b.allowances[v.allowance_id], status="closed")
            self.b.daily[v.outstanding_key] = self.b.daily.get(v.outstanding_key, 0) - v.remainder
        else:
            assert isinstance(v, TopUpTotal)
            changes: dict[str, Any] = {v.attribute: v.new}
            self.b.topups[v.topup_id] = replace(self.b.topups[v.topup_id], **changes)


class FakeRequests:
    """Reads of the payment requests the fake ledger store wrote (PaymentRequestStore)."""

    def __init__(self, book: FakeBook) -> None:
        self.b = book

    def get(self, request_id: str) -> PaymentRequest | None:
        return self.b.requests.get(request_id)

    def _sk(self, r: PaymentRequest) -> str:
        return f"{r.created_ms:013d}#{r.request_id}"

    def newest(self, user_id: str, role: str, before: str | None, page: int) -> Iterator[PaymentRequest]:
        mine = [r for r in self.b.requests.values()
                if (r.payer_id if role == "incoming" else r.requester_id) == user_id]
        for r in sorted(mine, key=self._sk, reverse=True):
            if before is None or self._sk(r) < before:
                yield r

    def cursor_of(self, r: PaymentRequest) -> str:
        return self._sk(r)

    def waiting_until(self, now: int) -> Iterator[PaymentRequest]:
        yield from [r for r in self.b.requests.values() if r.status == "pending" and r.expires_at <= now]


class FakeFundingRepo:
    def __init__(self, book: FakeBook) -> None:
        self.b = book

    def user(self, user_id: str) -> FundingProfile | None:
        return self.b.profiles.get(user_id)

    def set_customer(self, user_id: str, customer_id: str) -> str:
        # The fake directory keeps no funding fields: the profile is made on first use.
        p = self.b.profiles.setdefault(user_id, FundingProfile(user_id))
        if not p.stripe_customer_id:
            self.b.profiles[user_id] = replace(p, stripe_customer_id=customer_id)
        return str(self.b.profiles[user_id].stripe_customer_id)

    def set_payout_account(self, user_id: str, account_id: str | None, status: str) -> None:
        p = self.b.profiles[user_id]
        self.b.profiles[user_id] = replace(p, payout_account_id=account_id or p.payout_account_id, payout_status=status)

    def add_payment_method(self, pm: PaymentMethod, *, reattach: bool = False) -> None:
        assert reattach or pm.payment_method_id not in self.b.payment_methods
        self.b.payment_methods[pm.payment_method_id] = pm

    def payment_method(self, payment_method_id: str) -> PaymentMethod | None:
        return self.b.payment_methods.get(payment_method_id)

    def payment_methods_of(self, user_id: str) -> list[PaymentMethod]:
        return [p for p in self.b.payment_methods.values() if p.user_id == user_id and p.status == "active"]

    def detach(self, payment_method_id: str) -> bool:
        p = self.b.payment_methods[payment_method_id]
        self.b.payment_methods[payment_method_id] = replace(p, status="detached")
        return p.status == "active"

    def claim_topup(self, topup: TopUp) -> bool:
        return self.b.topups.setdefault(topup.topup_id, topup) is topup

    def topup(self, topup_id: str) -> TopUp | None:
        return self.b.topups.get(topup_id)

    def topup_by_intent(self, payment_intent_id: str) -> TopUp | None:
        return next((t for t in self.b.topups.values() if t.payment_intent_id == payment_intent_id), None)

    def record_charge(self, topup_id: str, intent_id: str | None, status: str, client_secret_ct: str | None,
                      response_ct: str) -> None:
        t = self.b.topups[topup_id]
        self.b.topups[topup_id] = replace(t, payment_intent_id=intent_id or t.payment_intent_id,
                                          client_secret_ct=client_secret_ct, response_ct=response_ct,
                                          status=status if t.status == "creating" else t.status)

    def set_topup_status(self, topup_id: str, status: str, unless: tuple[str, ...] = ()) -> bool:
        t = self.b.topups.get(topup_id)
        if t is None or t.status in unless:
            return False
        self.b.topups[topup_id] = replace(t, status=status)
        return True

    def flag_shortfall(self, topup_id: str, kind: str) -> None:
        self.b.topups[topup_id] = replace(self.b.topups[topup_id], shortfall=kind)

    def withdrawal(self, withdrawal_id: str) -> Withdrawal | None:
        return self.b.withdrawals.get(withdrawal_id)

    def withdrawal_by_payout(self, payout_id: str) -> Withdrawal | None:
        return next((w for w in self.b.withdrawals.values() if w.payout_id == payout_id), None)

    def _update(self, withdrawal_id: str, **changes: Any) -> None:
        self.b.withdrawals[withdrawal_id] = replace(self.b.withdrawals[withdrawal_id], **changes)

    def mark_attempt(self, withdrawal_id: str, user_id: str, call: str, when: float,
                     first: float | None = None) -> bool:
        name = f"{call}_attempted_at"
        w, profile = self.b.withdrawals[withdrawal_id], self.b.profiles.get(user_id)
        if (profile is None or profile.status in ("frozen", "closed") or w.status != "pending"
                or w.payout_barred_at is not None):
            return False
        if getattr(w, name) != first:
            return False
        if first is None:
            self._update(withdrawal_id, **{name: when})
        return True

    def bar_payout(self, withdrawal_id: str) -> bool:
        w = self.b.withdrawals[withdrawal_id]
        if (w.status != "pending" or w.payout_attempted_at is not None
                or (w.transfer_attempted_at is not None and not w.stripe_transfer_id)):
            return False
        if w.payout_barred_at is None:
            self._update(withdrawal_id, payout_barred_at=1.0)
        return True

    def set_stripe_transfer(self, withdrawal_id: str, transfer_id: str) -> None:
        self._update(withdrawal_id, stripe_transfer_id=transfer_id)

    def set_reversal(self, withdrawal_id: str, reversal_id: str) -> None:
        self._update(withdrawal_id, reversal_id=reversal_id)

    def set_payout(self, withdrawal_id: str, payout_id: str) -> None:
        self._update(withdrawal_id, payout_id=payout_id)

    def set_withdrawal_status(self, withdrawal_id: str, status: str, reason: str | None = None) -> bool:
        if self.b.withdrawals[withdrawal_id].status != "pending":
            return False
        self._update(withdrawal_id, status=status, attention_reason=reason)
        return True

    def claim_resolution(self, withdrawal_id: str, outcome: str) -> bool:
        w = self.b.withdrawals[withdrawal_id]
        if w.status != "needs_attention" or w.resolution not in (None, outcome):
            return False
        self._update(withdrawal_id, resolution=outcome)
        return True

    def stuck_withdrawals(self, created_before: str) -> list[Withdrawal]:
        return [w for w in self.b.withdrawals.values()
                if w.status == "pending" and not w.payout_id and w.created_at < created_before]

    def keep_withdrawal_answer(self, withdrawal_id: str, response_ct: str) -> bool:
        if self.b.withdrawals[withdrawal_id].response_ct:
            return False
        self._update(withdrawal_id, response_ct=response_ct)
        return True
