"""The ledger on DynamoDB: every movement of money is ONE TransactWriteItems.

A movement's transaction holds the conditional debit, the conditional credit, the transfer
record, its two entries (legs), the idempotency record and the daily-limit counter, so either all
of it happens or none (docs/architecture.md). Conditions do the checking (no read-then-write):
`available >= :amount` on the debit, `attribute_not_exists` on the transfer and idempotency
records, `total <= :room` on the daily counter. Cancellation reasons are read per item and
mapped to the domain error they mean; `TransactionConflict` is retried with jittered backoff.

Low-level boto3 is used here rather than PynamoDB's TransactWrite for full control over the
expressions and to read `ConsumedCapacity` (bench/).
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from chalicelib.adapters.dynamodb import account_status, cursors
from chalicelib.adapters.dynamodb.connection import MAX_ATTEMPTS, RETRYABLE, backoff, capacity_request
from chalicelib.adapters.dynamodb.models import (
    AccountStatusRecord,
    AllowanceRecord,
    AuditRecord,
    DailyTotalRecord,
    EntryRecord,
    IdempotencyRecord,
    IdentityRecord,
    InvitationRecord,
    OfflineDeviceRecord,
    PaymentRequestRecord,
    RedemptionRecord,
    SessionRecord,
    TopUpRecord,
    TransferRecord,
    UserRecord,
    WalletRecord,
    WithdrawalRecord,
)
from chalicelib.adapters.dynamodb.sessions import to_session
from chalicelib.adapters.dynamodb.tables import table_name
from chalicelib.adapters.dynamodb.users import default_wallet_key, verified_owner, wallet_puts
from chalicelib.config import Settings
from chalicelib.domain.audit import AUDIT_LOG, AuditEntry
from chalicelib.domain.errors import AccountFrozen, Conflict, NotFound, RequestNotPending, ServiceUnavailable
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
from chalicelib.domain.offline import DeviceInactive
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
    CREDIT_SHARD_KIND,
    SYSTEM_OWNER,
    Entry,
    IdempotentResponse,
    PaymentReads,
    Transfer,
    Wallet,
    credit_shard_id,
    is_system_wallet,
)

__all__ = ["DailyLimit", "DuplicateRequest", "DynamoLedger", "IdempotencyPut"]


def _s(v: str) -> dict[str, str]:
    return {"S": v}


def _sealed(ciphertext: str) -> dict[str, Any]:
    """A kept answer's attribute: the ciphertext's bytes (`answer`, models.IdempotencyRecord),
    or, for a cipher whose output is not base64 (none in production), the text as it is."""
    try:
        raw = base64.b64decode(ciphertext, validate=True)
    except binascii.Error:
        raw = None
    if raw is not None and base64.b64encode(raw).decode("ascii") == ciphertext:
        return {"answer": {"B": raw}}
    return {"response_ct": _s(ciphertext)}


def _n(v: int) -> dict[str, str]:
    return {"N": str(v)}


def _wallet(r: WalletRecord, shards: Sequence[WalletRecord] = ()) -> Wallet:
    """A wallet as read; a high-volume one with its credit shards summed in."""
    return Wallet(wallet_id=r.wallet_id, owner_id=r.owner_id, currency=r.currency, name=r.name,
                  balance=int(r.balance) + sum(int(x.balance) for x in shards), held=int(r.held or 0),
                  available=int(r.available or 0) + sum(int(x.available or 0) for x in shards),
                  status=r.status, kind=r.kind, is_default=bool(r.is_default), created_at=r.created_at,
                  credit_shards=int(r.credit_shards or 0))


def _transfer(r: TransferRecord) -> Transfer:
    return Transfer(transfer_id=r.transfer_id, type=r.type, status=r.status, from_wallet_id=r.from_wallet_id,
                    to_wallet_id=r.to_wallet_id, from_owner=r.from_owner, to_owner=r.to_owner,
                    amount=int(r.amount), currency=r.currency, memo_ct=r.memo_ct, created_at=r.created_at,
                    debit_sk=r.debit_sk, delivered_to=r.delivered_to,
                    delivered_amount=None if r.delivered_amount is None else int(r.delivered_amount),
                    delivered_currency=r.delivered_currency, request_hash=r.request_hash,
                    answers_retries=bool(r.answers_retries))


def _entry(r: EntryRecord) -> Entry:
    return Entry(wallet_id=r.wallet_id, sk=r.sk, transfer_id=r.transfer_id, type=r.type, direction=r.direction,
                 amount=int(r.amount), currency=r.currency, status=r.status,
                 counterparty_wallet_id=r.counterparty_wallet_id, created_at=r.created_at, memo_ct=r.memo_ct,
                 posted_at=r.posted_at, chain=r.chain, chain_seq=None if r.chain_seq is None else int(r.chain_seq),
                 hash=r.hash, prev_hash=r.prev_hash)


def _invitation(r: InvitationRecord) -> Invitation:
    return Invitation(transfer_id=r.transfer_id, sender_id=r.sender_id, wallet_id=r.wallet_id,
                      contact_key=r.contact_key, amount=int(r.amount), currency=r.currency, status=r.status,
                      created_at=r.created_at, expires_at=int(r.expires_at), claimed_by=r.claimed_by)


_ENTRY_SK = re.compile(r"[0-9]{13}#[A-Za-z0-9_]{1,100}#[dc]")  # what `_sk` writes: nothing else is a cursor


def encode_cursor(sk: str) -> str:
    return cursors.encode(sk)


def decode_cursor(cursor: str) -> str:
    return cursors.decode(cursor, _ENTRY_SK)


class DynamoLedger:
    def __init__(self, settings: Settings, client: Any, *, shards: int = 8,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._ddb = client
        self._shards = shards
        self._sleep = sleep
        self.t = {m: table_name(settings, m) for m in
                  (WalletRecord, TransferRecord, EntryRecord, IdempotencyRecord, DailyTotalRecord, WithdrawalRecord,
                   TopUpRecord, InvitationRecord, PaymentRequestRecord, AllowanceRecord, RedemptionRecord,
                   OfflineDeviceRecord, SessionRecord, IdentityRecord, UserRecord, AccountStatusRecord, AuditRecord)}
        # Per thread (benchmarks run many clients on one store): the last transaction's
        # ConsumedCapacity and how many attempts it took.
        self._last = threading.local()
        # Only benchmarks ask DynamoDB what a transaction consumed: the product never reads it,
        # and it makes every answer bigger (about 600 bytes instead of 220).
        self.measure_capacity = False

    @property
    def last_consumed(self) -> list[dict[str, Any]]:
        return getattr(self._last, "consumed", [])

    @property
    def last_attempts(self) -> int:
        return getattr(self._last, "attempts", 0)

    # -- reads ----------------------------------------------------------------------------------
    def get_wallet(self, wallet_id: str) -> Wallet | None:
        r = WalletRecord.find(wallet_id)
        return self._summed(r) if r else None

    def wallets_of(self, owner_id: str) -> list[Wallet]:
        return [self._summed(r) for r in WalletRecord.by_owner.query(owner_id)]

    def _summed(self, r: WalletRecord) -> Wallet:
        """The wallet; a high-volume one re-read with its shards in ONE TransactGetItems (one
        more round trip, for those wallets only): a sweep between two separate reads would
        show its amount twice or not at all."""
        if not r.credit_shards:
            return _wallet(r)
        main, *shards = self._snapshot(r.wallet_id, int(r.credit_shards))
        return _wallet(main, shards)

    def _snapshot(self, wallet_id: str, shards: int) -> list[WalletRecord]:
        """The wallet item and its shards as of one instant (serializable with transactions)."""
        from botocore.exceptions import ClientError

        keys = [wallet_id] + [credit_shard_id(wallet_id, k) for k in range(shards)]
        gets = [{"Get": {"TableName": self.t[WalletRecord], "Key": {"wallet_id": _s(k)}}} for k in keys]
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                out = self._ddb.transact_get_items(TransactItems=gets)
            except ClientError as exc:  # a concurrent transaction on one of the items
                if exc.response.get("Error", {}).get("Code") not in ("TransactionCanceledException",
                                                                     "ThrottlingException"):
                    raise
                self._sleep(backoff(attempt))
                continue
            return [WalletRecord.from_raw_data(x["Item"]) for x in out["Responses"] if x.get("Item")]
        raise ServiceUnavailable()

    def _shards_of(self, r: WalletRecord) -> list[WalletRecord]:
        """A high-volume wallet's credit shards, for the sweep (which re-checks each in its
        condition, so a separate read is enough)."""
        n = int(r.credit_shards or 0)
        if not n:
            return []
        table = self.t[WalletRecord]
        found = self._batch_get({table: [{"wallet_id": _s(credit_shard_id(r.wallet_id, k))} for k in range(n)]})
        return [WalletRecord.from_raw_data(item) for item in found.get(table, [])]

    def payment_reads(self, *, transfer_id: str, source_wallet: str, session_id: str | None = None,
                      recipient_wallet: str | None = None, contact_key: str | None = None) -> PaymentReads:
        """One BatchGetItem across four tables, strongly consistent: the payment's only round
        trip before its transaction (which re-checks, in its conditions, all that money needs)."""
        wallets = {source_wallet} | ({recipient_wallet} if recipient_wallet else set())  # no duplicate keys
        keys: dict[str, list[dict[str, Any]]] = {
            self.t[TransferRecord]: [{"transfer_id": _s(transfer_id)}],
            self.t[WalletRecord]: [{"wallet_id": _s(w)} for w in sorted(wallets)]}
        if session_id:
            keys[self.t[SessionRecord]] = [{"session_id": _s(session_id)}]
        if contact_key:
            keys[self.t[IdentityRecord]] = [{"key": _s(contact_key)}]
        found = self._batch_get(keys)

        def one(model: Any, attr: str, value: str | None) -> Any:
            item = next((i for i in found.get(self.t[model], []) if value and i[attr].get("S") == value), None)
            return model.from_raw_data(item) if item else None

        earlier, contact = one(TransferRecord, "transfer_id", transfer_id), one(IdentityRecord, "key", contact_key)
        source, recipient = one(WalletRecord, "wallet_id", source_wallet), one(WalletRecord, "wallet_id",
                                                                              recipient_wallet)
        session = one(SessionRecord, "session_id", session_id)
        return PaymentReads(
            session=to_session(session) if session else None,
            earlier=_transfer(earlier) if earlier else None,
            source=_wallet(source) if source else None, recipient=_wallet(recipient) if recipient else None,
            contact_owner=verified_owner(contact) if contact else None)

    def _batch_get(self, keys: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
        """BatchGetItem until nothing is left unprocessed (throttling returns keys, not errors)."""
        found: dict[str, list[dict[str, Any]]] = {}
        request = {table: {"Keys": k, "ConsistentRead": True} for table, k in keys.items()}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            out = self._ddb.batch_get_item(RequestItems=request)
            for table, items in out.get("Responses", {}).items():
                found.setdefault(table, []).extend(items)
            request = out.get("UnprocessedKeys") or {}
            if not request:
                return found
            self._sleep(backoff(attempt))
        raise ServiceUnavailable()

    def default_wallet_id(self, owner_id: str, currency: str) -> str | None:
        r = IdentityRecord.find(default_wallet_key(owner_id, currency))
        return r.wallet_id if r else None

    def get_transfer(self, transfer_id: str) -> Transfer | None:
        r = TransferRecord.find(transfer_id)
        return _transfer(r) if r else None

    def get_invitation(self, transfer_id: str) -> Invitation | None:
        r = InvitationRecord.find(transfer_id)
        return _invitation(r) if r else None

    def invitations_for(self, contact_key: str) -> list[Invitation]:
        """The unclaimed invitations waiting for a contact, oldest first."""
        return [_invitation(r) for r in InvitationRecord.by_contact.query(
            contact_key, filter_condition=InvitationRecord.status == "unclaimed")]

    def unclaimed_invitations(self) -> Iterator[Invitation]:
        """Every unclaimed invitation, soonest expiry first (the scheduled sweep)."""
        for r in InvitationRecord.by_status.query("unclaimed"):
            yield _invitation(r)

    def get_idempotency(self, key: str) -> IdempotentResponse | None:
        r = IdempotencyRecord.find(key)
        if r is None:
            return None
        return IdempotentResponse(r.request_hash, int(r.status_code), r.sealed(), r.resource_id)

    def entries(self, wallet_id: str, limit: int, cursor: str | None = None) -> tuple[list[Entry], str | None]:
        """A page of the statement, newest first; the cursor is the last entry's sort key."""
        # One more than asked tells whether a next page exists, without an empty last page.
        kwargs: dict[str, Any] = {"scan_index_forward": False, "limit": limit + 1, "consistent_read": True}
        if cursor:
            kwargs["range_key_condition"] = EntryRecord.sk < decode_cursor(cursor)
        items = [_entry(r) for r in EntryRecord.query(wallet_id, **kwargs)]
        more = len(items) > limit
        items = items[:limit]
        return items, (encode_cursor(items[-1].sk) if more else None)

    def pending_debits(self, wallet_id: str) -> list[Entry]:
        """The wallet's open holds (an operator's view: it reads the whole statement)."""
        return [_entry(r) for r in EntryRecord.query(wallet_id, consistent_read=True,
                                                      filter_condition=(EntryRecord.status == "pending")
                                                      & (EntryRecord.direction == "debit"))]

    def all_entries(self, wallet_id: str) -> Iterator[Entry]:
        for r in EntryRecord.query(wallet_id, consistent_read=True):
            yield _entry(r)

    def scan_wallets(self) -> Iterator[Wallet]:
        # A scan sees items at different instants: a high-volume wallet is re-read with its
        # shards as of one instant, its scanned shards skipped.
        for r in WalletRecord.scan(consistent_read=True):
            if r.kind != CREDIT_SHARD_KIND:
                yield self._summed(r)

    # -- high-volume wallets --------------------------------------------------------------------
    def spread_credits(self, main: Wallet, shards: int, now: str, record: WrittenWith | None = None) -> None:
        """Make a user wallet high-volume: its credits land on `shards` shard items, so no one
        item takes every payment (DynamoDB's per-item write limit, docs/hot-wallets.md). The
        count may grow, never shrink (a shard beyond it would hold money nobody reads)."""
        table, wallet_id = self.t[WalletRecord], main.wallet_id
        items: list[dict[str, Any]] = [{"Update": {
            "TableName": table, "Key": {"wallet_id": _s(wallet_id)}, "UpdateExpression": "SET credit_shards = :n",
            "ConditionExpression": "kind = :user AND (attribute_not_exists(credit_shards) OR credit_shards <= :n)",
            "ExpressionAttributeValues": {":n": _n(shards), ":user": _s("user")}}}]
        for k in range(shards):
            # The shard copies what a credit's condition checks (status, currency): a status
            # change of the wallet must be written to its shards too.
            items.append({"Update": {
                "TableName": table, "Key": {"wallet_id": _s(credit_shard_id(wallet_id, k))},
                "UpdateExpression": ("SET balance = if_not_exists(balance, :zero), held = :zero,"
                                     " available = if_not_exists(available, :zero), currency = :cur, kind = :kind,"
                                     " #st = :st, shard_of = :w, #nm = :nm, is_default = :false,"
                                     " created_at = if_not_exists(created_at, :now)"),
                "ExpressionAttributeNames": {"#st": "status", "#nm": "name"},
                "ExpressionAttributeValues": {":zero": _n(0), ":cur": _s(main.currency), ":kind": _s(CREDIT_SHARD_KIND),
                                              ":st": _s(main.status), ":w": _s(wallet_id), ":nm": _s(f"shard {k}"),
                                              ":false": {"BOOL": False}, ":now": _s(now)}}})
        roles = ["wallet"] + ["shard"] * shards
        if record:
            self._add_companion(items, roles, record)
        self._transact(items, roles, None)

    def sweep(self, wallet_id: str) -> int:
        """Fold a high-volume wallet's credit shards into its main item, where debits are
        checked (available >= amount on ONE item: no overdraft however many shards). Each
        shard moves in its own small transaction; the total balance never changes. Returns
        the amount folded."""
        main = WalletRecord.find(wallet_id)
        moved = 0
        for shard in self._shards_of(main) if main else []:
            amount = int(shard.available or 0)
            if amount <= 0:
                continue
            items = [{"Update": {
                "TableName": self.t[WalletRecord], "Key": {"wallet_id": _s(shard.wallet_id)},
                "UpdateExpression": "SET balance = balance - :a, available = available - :a",
                "ConditionExpression": "available >= :a", "ExpressionAttributeValues": {":a": _n(amount)}}}, {
                "Update": {
                "TableName": self.t[WalletRecord], "Key": {"wallet_id": _s(wallet_id)},
                "UpdateExpression": "SET balance = balance + :a, available = available + :a",
                "ConditionExpression": "attribute_exists(wallet_id)", "ExpressionAttributeValues": {":a": _n(amount)}}}]
            try:
                self._transact(items, ["shard", "wallet"], None)
            except Conflict:
                continue  # a concurrent sweep took this shard's money first
            moved += amount
        return moved

    def scan_transfers(self) -> Iterator[Transfer]:
        for r in TransferRecord.scan(consistent_read=True):
            yield _transfer(r)

    def scan_entries(self) -> Iterator[Entry]:
        for r in EntryRecord.scan(consistent_read=True):
            yield _entry(r)

    # -- wallets --------------------------------------------------------------------------------
    def open_wallet(self, wallet: NewWallet) -> str | None:
        """Open a wallet: its id, or None for a default when one of its currency exists already."""
        from pynamodb.exceptions import TransactWriteError

        from chalicelib.adapters.dynamodb.connection import transact

        def write(tx: Any) -> None:
            for model, condition in wallet_puts(wallet):
                tx.save(model, condition=condition)

        try:
            transact(write)
        except TransactWriteError:
            if wallet.is_default and self.default_wallet_id(wallet.owner_id, wallet.currency):
                return None
            raise
        return wallet.wallet_id

    def system_shard(self, account: str, currency: str) -> str:
        from chalicelib.domain.wallet import system_wallet_id

        return system_wallet_id(account, currency, random.randrange(self._shards))

    # -- movements ------------------------------------------------------------------------------
    def _debit(self, wallet_id: str, amount: int, currency: str, now: str, hold: bool = False) -> dict[str, Any]:
        if is_system_wallet(wallet_id):
            return self._system_update(wallet_id, -amount, currency, now)
        expr = ("SET held = held + :a, available = available - :a" if hold
                else "SET balance = balance - :a, available = available - :a")
        return {"Update": {
            "TableName": self.t[WalletRecord], "Key": {"wallet_id": _s(wallet_id)}, "UpdateExpression": expr,
            "ConditionExpression": "#st = :active AND currency = :cur AND kind = :user AND available >= :a",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": {":a": _n(amount), ":active": _s("active"), ":cur": _s(currency),
                                          ":user": _s("user")}}}

    def _credit(self, wallet_id: str, amount: int, currency: str, now: str, shards: int = 0) -> dict[str, Any]:
        if is_system_wallet(wallet_id):
            return self._system_update(wallet_id, amount, currency, now)
        key, kind = wallet_id, "user"
        if shards:  # a high-volume wallet: any one of its shards, so concurrent payers rarely meet
            key, kind = credit_shard_id(wallet_id, random.randrange(shards)), CREDIT_SHARD_KIND
        return {"Update": {
            "TableName": self.t[WalletRecord], "Key": {"wallet_id": _s(key)},
            "UpdateExpression": "SET balance = balance + :a, available = available + :a",
            "ConditionExpression": "#st = :active AND currency = :cur AND kind = :kind",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": {":a": _n(amount), ":active": _s("active"), ":cur": _s(currency),
                                          ":kind": _s(kind)}}}

    def _system_update(self, wallet_id: str, delta: int, currency: str, now: str) -> dict[str, Any]:
        # System shards are created on first use and may go negative (they mirror money outside).
        return {"Update": {
            "TableName": self.t[WalletRecord], "Key": {"wallet_id": _s(wallet_id)},
            "UpdateExpression": (
                "SET balance = if_not_exists(balance, :zero) + :d, available = if_not_exists(available, :zero) + :d,"
                " held = if_not_exists(held, :zero), currency = :cur, kind = :system, owner_id = :owner,"
                " #st = :active, #nm = if_not_exists(#nm, :id), is_default = :false,"
                " created_at = if_not_exists(created_at, :now)"),
            "ConditionExpression": "attribute_not_exists(wallet_id) OR currency = :cur",
            "ExpressionAttributeNames": {"#st": "status", "#nm": "name"},
            "ExpressionAttributeValues": {":d": _n(delta), ":zero": _n(0), ":cur": _s(currency),
                                          ":system": _s("system"), ":owner": _s(SYSTEM_OWNER),
                                          ":active": _s("active"), ":id": _s(wallet_id),
                                          ":false": {"BOOL": False}, ":now": _s(now)}}}

    def _transfer_put(self, m: Movement, status: str, now: str, memo_ct: str | None, req_hash: str | None,
                      debit_sk: str, answers_retries: bool = False) -> dict[str, Any]:
        item: dict[str, Any] = {"transfer_id": _s(m.transfer_id), "type": _s(m.type), "status": _s(status),
                "from_wallet_id": _s(m.from_wallet), "to_wallet_id": _s(m.to_wallet), "from_owner": _s(m.from_owner),
                "to_owner": _s(m.to_owner), "amount": _n(m.amount.amount), "currency": _s(m.amount.currency),
                "created_at": _s(now), "debit_sk": _s(debit_sk)}
        if memo_ct:
            item["memo_ct"] = _s(memo_ct)
        if req_hash:
            item["request_hash"] = _s(req_hash)
        if answers_retries:
            item["answers_retries"] = {"BOOL": True}
        return {"Put": {"TableName": self.t[TransferRecord], "Item": item,
                        "ConditionExpression": "attribute_not_exists(transfer_id)"}}

    def _entry_put(self, wallet_id: str, sk: str, m: Movement, direction: str, status: str, counterparty: str,
                   owner: str, now: str, memo_ct: str | None = None, *, landed: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
        """An entry (a leg). A posted one says when (its chain orders by it); a credit to a
        high-volume wallet names, from `landed` (the credit's item), the shard whose chain it
        joins (docs/statements.md). The chainer adds the rest from the stream, off this path."""
        item = {"wallet_id": _s(wallet_id), "sk": _s(sk), "transfer_id": _s(m.transfer_id), "type": _s(m.type),
                "direction": _s(direction), "amount": _n(m.amount.amount), "currency": _s(m.amount.currency),
                "status": _s(status), "counterparty_wallet_id": _s(counterparty), "owner_id": _s(owner),
                "created_at": _s(now)}
        if status == "posted":
            item["posted_at"] = _s(now)
        if landed is not None and "Update" in landed and landed["Update"]["Key"]["wallet_id"]["S"] != wallet_id:
            item["shard"] = landed["Update"]["Key"]["wallet_id"]
        if memo_ct:
            item["memo_ct"] = _s(memo_ct)
        return {"Put": {"TableName": self.t[EntryRecord], "Item": item}}

    def _idempotency_put(self, idem: IdempotencyPut, now: str) -> dict[str, Any]:
        return {"Put": {"TableName": self.t[IdempotencyRecord], "Item": {
            "key": _s(idem.key), "request_hash": _s(idem.request_hash), "status_code": _n(idem.status_code),
            **_sealed(idem.response_ct), "resource_id": _s(idem.resource_id), "created_at": _s(now),
            "expires_at": _n(idem.expires_at)}, "ConditionExpression": "attribute_not_exists(#k)",
            "ExpressionAttributeNames": {"#k": "key"}}}

    def _daily_update(self, daily: DailyLimit, amount: int) -> dict[str, Any]:
        return {"Update": {
            "TableName": self.t[DailyTotalRecord], "Key": {"key": _s(daily.key)},
            "UpdateExpression": "SET #t = if_not_exists(#t, :zero) + :a, expires_at = :exp",
            # The first movement of the day must fit too (no counter yet).
            "ConditionExpression": "(attribute_not_exists(#t) AND :a <= :limit) OR #t <= :room",
            "ExpressionAttributeNames": {"#t": "total"},  # a reserved word in DynamoDB expressions
            "ExpressionAttributeValues": {":a": _n(amount), ":zero": _n(0), ":exp": _n(daily.expires_at),
                                          ":room": _n(daily.limit - amount), ":limit": _n(daily.limit)}}}

    @staticmethod
    def _sk(ms: int, transfer_id: str, leg: str) -> str:
        return f"{ms:013d}#{transfer_id}#{leg}"

    def move(self, m: Movement, *, now: str, now_ms: int, memo_ct: str | None = None,
             request_hash: str | None = None, idempotency: IdempotencyPut | None = None,
             daily: DailyLimit | None = None, record: WrittenWith | None = None,
             answers_retries: bool = False) -> None:
        """Post a movement at once: debit, credit, transfer, two entries (+ idempotency, daily)."""
        amount, currency = m.amount.amount, m.amount.currency
        debit_sk, credit_sk = self._sk(now_ms, m.transfer_id, "d"), self._sk(now_ms, m.transfer_id, "c")
        credit = self._credit(m.to_wallet, amount, currency, now, m.to_credit_shards)
        items = [
            self._debit(m.from_wallet, amount, currency, now),
            credit,
            self._transfer_put(m, "posted", now, memo_ct, request_hash, debit_sk, answers_retries),
            self._entry_put(m.from_wallet, debit_sk, m, "debit", "posted", m.to_wallet, m.from_owner, now, memo_ct),
            self._entry_put(m.to_wallet, credit_sk, m, "credit", "posted", m.from_wallet, m.to_owner, now, memo_ct,
                            landed=credit),
        ]
        self._transact_with(items, ["debit", "credit", "transfer", "entry", "entry"], m, now, record, idempotency,
                            daily)

    def hold(self, m: Movement, *, now: str, now_ms: int, idempotency: IdempotencyPut | None = None,
             daily: DailyLimit | None = None, record: WrittenWith | None = None, memo_ct: str | None = None,
             request_hash: str | None = None) -> None:
        """First phase of a two-phase movement: `held` rises and `available` falls, `balance` stays."""
        amount, currency = m.amount.amount, m.amount.currency
        debit_sk = self._sk(now_ms, m.transfer_id, "d")
        items = [
            self._debit(m.from_wallet, amount, currency, now, hold=True),
            self._transfer_put(m, "pending", now, memo_ct, request_hash, debit_sk),
            self._entry_put(m.from_wallet, debit_sk, m, "debit", "pending", m.to_wallet, m.from_owner, now,
                            memo_ct),
        ]
        self._transact_with(items, ["debit", "transfer", "entry"], m, now, record, idempotency, daily)

    def _transact_with(self, items: list[dict[str, Any]], roles: list[str], m: Movement, now: str,
                       record: WrittenWith | None, idempotency: IdempotencyPut | None,
                       daily: DailyLimit | None) -> None:
        """Add the optional items of a movement, then write it all in one transaction.

        `record` is written with the money: a claim (a top-up's refunded total) or a resource
        (the withdrawal of a hold), conditional so that it happens once. Money its owner sends
        out also requires, in the same transaction, that the account is neither frozen by an
        operator nor closed: a freeze or a closing racing the payment either comes first and
        refuses it, or comes after it."""
        if m.by_owner:
            items.append(self._not_frozen(m.from_owner))
            roles.append("account")
        if record:
            self._add_companion(items, roles, record)
        if idempotency:
            items.append(self._idempotency_put(idempotency, now))
            roles.append("idempotency")
        if daily:
            items.append(self._daily_update(daily, m.amount.amount))
            roles.append("daily")
        self._transact(items, roles, m)

    def _not_frozen(self, owner_id: str) -> dict[str, Any]:
        """The condition that this account may send money: not frozen by an operator
        (docs/operations.md), not closed (services.closing: a closed account's money leaves only
        through operators). Checked on the account's status item, not its user item: a small
        item costs the check 2 WCU whatever the account holds (adapters.dynamodb.account_status)."""
        return account_status.may_send(self.t[AccountStatusRecord], owner_id)

    def resolve_hold(self, transfer: Transfer, *, post: bool, now: str, now_ms: int,
                     record: WrittenWith | None = None, to: tuple[str, str] | None = None) -> bool:
        """Post or void a pending hold, exactly once: False if it was resolved already.

        `to` (wallet, owner) posts it somewhere other than the wallet the hold named: an
        invitation's money goes to whoever claims it, only while its sender's account is not
        frozen (AccountFrozen: it stays unclaimed, and its expiry gives it back)."""
        if post and to is not None:
            transfer = dataclasses.replace(transfer, to_wallet_id=to[0], to_owner=to[1])
        # A posting (re)writes the recipient, on the transfer and as the debit's counterparty.
        recipient = {":tw": _s(transfer.to_wallet_id), ":to": _s(transfer.to_owner)} if post else {}
        status = {":new": _s("posted" if post else "voided"), ":pending": _s("pending")}
        items: list[dict[str, Any]] = [{"Update": {
            "TableName": self.t[TransferRecord], "Key": {"transfer_id": _s(transfer.transfer_id)},
            "UpdateExpression": "SET #st = :new, resolved_at = :now"
                                + (", to_wallet_id = :tw, to_owner = :to" if post else ""),
            "ConditionExpression": "#st = :pending", "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": {**status, ":now": _s(now), **recipient}}}]
        items.append(self._out_of_held(transfer.from_wallet_id, transfer.amount, transfer.currency, spent=post))
        items.append({"Update": {
            "TableName": self.t[EntryRecord],
            "Key": {"wallet_id": _s(transfer.from_wallet_id), "sk": _s(transfer.debit_sk or "")},
            # A posted hold joins its wallet's chain now, at `posted_at` (docs/statements.md).
            "UpdateExpression": "SET #st = :new" + (", counterparty_wallet_id = :tw, posted_at = :now" if post else ""),
            "ConditionExpression": "#st = :pending", "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": {**status, **({":tw": recipient[":tw"], ":now": _s(now)} if post else {})}}})
        roles = ["resolve", "wallet", "entry"]
        if post and to is not None:
            items.append(self._not_frozen(transfer.from_owner))
            roles.append("account")
        if post:
            m = Movement(transfer.transfer_id, transfer.type, transfer.from_wallet_id, transfer.to_wallet_id,
                         _money(transfer.amount, transfer.currency), transfer.from_owner, transfer.to_owner)
            items.append(self._credit(transfer.to_wallet_id, transfer.amount, transfer.currency, now))
            items.append(self._entry_put(transfer.to_wallet_id, self._sk(now_ms, transfer.transfer_id, "c"), m,
                                         "credit", "posted", transfer.from_wallet_id, transfer.to_owner, now,
                                         transfer.memo_ct))
            roles += ["credit", "entry"]
        if record:
            self._add_companion(items, roles, record)
        try:
            self._transact(items, roles, None)
        except DuplicateRequest:
            return False
        return True

    def _out_of_held(self, wallet_id: str, amount: int, currency: str, *, spent: bool) -> dict[str, Any]:
        """Held money leaves the hold: spent (posted: `balance` falls with `held`) or given
        back (voided: `available` rises as `held` falls)."""
        expr = "SET held = held - :a, " + ("balance = balance - :a" if spent else "available = available + :a")
        return {"Update": {
            "TableName": self.t[WalletRecord], "Key": {"wallet_id": _s(wallet_id)}, "UpdateExpression": expr,
            "ConditionExpression": "held >= :a AND currency = :cur",
            "ExpressionAttributeValues": {":a": _n(amount), ":cur": _s(currency)}}}

    def post_part_of_hold(self, m: Movement, hold: tuple[str, str], *, now: str, now_ms: int,
                          companions: list[tuple[str, dict[str, Any]]],
                          explain: Callable[[dict[str, Any]], None]) -> None:
        """Post `m.amount` of a pending hold (transfer id, debit leg's sort key) as a movement of
        its own, in ONE transaction: the payer's held money spent, the hold's transfer and leg
        lowered to what is left (still pending), the credit, the posted transfer and its two
        legs, and the caller's `companions` (role, item), whose failures `explain` reads first.
        An offline voucher's redemption is this (adapters.dynamodb.offline)."""
        amount, currency = m.amount.amount, m.amount.currency
        debit_sk, credit_sk = self._sk(now_ms, m.transfer_id, "d"), self._sk(now_ms, m.transfer_id, "c")
        lower = {"UpdateExpression": "SET amount = amount - :a",
                 "ConditionExpression": "#st = :pending AND amount >= :a",
                 "ExpressionAttributeNames": {"#st": "status"},
                 "ExpressionAttributeValues": {":a": _n(amount), ":pending": _s("pending")}}
        items = [
            *(item for _, item in companions),
            self._out_of_held(m.from_wallet, amount, currency, spent=True),
            {"Update": {"TableName": self.t[TransferRecord], "Key": {"transfer_id": _s(hold[0])}, **lower}},
            {"Update": {"TableName": self.t[EntryRecord], "Key": {"wallet_id": _s(m.from_wallet), "sk": _s(hold[1])},
                        **lower}},
            self._credit(m.to_wallet, amount, currency, now),
            self._transfer_put(m, "posted", now, None, None, debit_sk),
            self._entry_put(m.from_wallet, debit_sk, m, "debit", "posted", m.to_wallet, m.from_owner, now),
            self._entry_put(m.to_wallet, credit_sk, m, "credit", "posted", m.from_wallet, m.to_owner, now),
        ]
        roles = [role for role, _ in companions] + ["payer", "hold", "hold", "credit", "transfer", "entry", "entry"]
        self._transact(items, roles, m, explain=explain)

    def write(self, record: WrittenWith | None, *, now: str, idempotency: IdempotencyPut | None = None) -> None:
        """A companion written without money (a new payment request, a request declined),
        with the idempotency record of the call that made it, in one transaction; or that
        record alone (the answer of a call whose money moved in transactions of its own)."""
        items: list[dict[str, Any]] = []
        roles: list[str] = []
        if record:
            self._add_companion(items, roles, record)
        if idempotency:
            items.append(self._idempotency_put(idempotency, now))
            roles.append("idempotency")
        self._transact(items, roles, None)

    def _add_companion(self, items: list[dict[str, Any]], roles: list[str], record: WrittenWith) -> None:
        """A companion's items and how each one's failed condition is read."""
        if isinstance(record, Audited):
            if record.change is not None:
                self._add_companion(items, roles, record.change)
            items.append(self._audit_put(record.entry))
            roles.append("audit")
        elif isinstance(record, NewAllowance):
            items += [self._allowance_put(record), self._daily_update(record.outstanding, record.allowance.amount),
                      {"ConditionCheck": {
                          "TableName": self.t[OfflineDeviceRecord], "Key": {"device_id": _s(record.device.device_id)},
                          "ConditionExpression": "#st = :active AND user_id = :u",
                          "ExpressionAttributeNames": {"#st": "status"},
                          "ExpressionAttributeValues": {":active": _s("active"), ":u": _s(record.device.user_id)}}}]
            roles += ["record", "daily", "device"]
        elif isinstance(record, AllowanceClosed):
            items += [self._allowance_close(record), self.counter_update(record.outstanding_key, -record.remainder)]
            roles += ["record", "counter"]
        elif isinstance(record, AccountStatusChange):
            # The user's status and the item every payment checks change together.
            items += [self._written_with(record),
                      account_status.status_put(self.t[AccountStatusRecord], record.user_id, record.status)]
            roles += ["record", "status"]
        else:
            items.append(self._written_with(record))
            roles.append(_role(record))

    def _audit_put(self, entry: AuditEntry) -> dict[str, Any]:
        item = {"log": _s(AUDIT_LOG), "sk": _s(entry.sort_key), "audit_id": _s(entry.audit_id), "at": _s(entry.at),
                "actor": _s(entry.actor), "command": _s(entry.command), "target": _s(entry.target),
                "outcome": _s(entry.outcome)}
        if entry.reason_ct:
            item["reason_ct"] = _s(entry.reason_ct)
        for name, value in (("before", entry.before), ("after", entry.after)):
            if value is not None:
                item[name] = _s(json.dumps(value, sort_keys=True))
        return {"Put": {"TableName": self.t[AuditRecord], "Item": item,
                        "ConditionExpression": "attribute_not_exists(sk)"}}  # append only: never over a record

    def counter_update(self, key: str, delta: int) -> dict[str, Any]:
        """A running total moved by `delta` without a condition (it only ever gives room back)."""
        return {"Update": {"TableName": self.t[DailyTotalRecord], "Key": {"key": _s(key)},
                           "UpdateExpression": "SET #t = if_not_exists(#t, :zero) + :d",
                           "ExpressionAttributeNames": {"#t": "total"},
                           "ExpressionAttributeValues": {":d": _n(delta), ":zero": _n(0)}}}

    def _allowance_put(self, record: NewAllowance) -> dict[str, Any]:
        a = record.allowance
        return {"Put": {"TableName": self.t[AllowanceRecord], "Item": {
            "allowance_id": _s(a.allowance_id), "user_id": _s(a.user_id), "device_id": _s(a.device_id),
            "wallet_id": _s(a.wallet_id), "amount": _n(a.amount), "currency": _s(a.currency), "spent": _n(0),
            "status": _s("open"), "releasing": _s("open"), "expires_at": _n(a.expires_at),
            "release_at": _n(a.release_at), "created_at": _s(a.created_at),
            "created_sk": _s(f"{a.created_ms:013d}#{a.allowance_id}"), "certificate": _s(a.certificate),
            "hold_id": _s(a.hold_id), "kid": _s(a.kid)}, "ConditionExpression": "attribute_not_exists(allowance_id)"}}

    def _allowance_close(self, value: AllowanceClosed) -> dict[str, Any]:
        return {"Update": {
            "TableName": self.t[AllowanceRecord], "Key": {"allowance_id": _s(value.allowance_id)},
            "UpdateExpression": "SET #st = :closed, closed_at = :at REMOVE releasing",
            "ConditionExpression": "#st = :open AND spent = :spent AND release_at <= :at",
            "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": {":closed": _s("closed"), ":open": _s("open"), ":spent": _n(value.spent),
                                          ":at": _n(value.at)}}}

    def _written_with(self, value: WrittenWith) -> dict[str, Any]:
        """A service's companion item as a transaction item, with the condition that makes it
        happen once."""
        if isinstance(value, NewWithdrawal):
            return {"Put": {"TableName": self.t[WithdrawalRecord], "Item": {
                "withdrawal_id": _s(value.withdrawal_id), "user_id": _s(value.user_id),
                "wallet_id": _s(value.wallet_id), "amount": _n(value.amount), "currency": _s(value.currency),
                "status": _s("pending"), "request_hash": _s(value.request_hash), "created_at": _s(value.created_at)},
                "ConditionExpression": "attribute_not_exists(withdrawal_id)"}}
        if isinstance(value, Invitation):
            return {"Put": {"TableName": self.t[InvitationRecord], "Item": {
                "transfer_id": _s(value.transfer_id), "sender_id": _s(value.sender_id),
                "wallet_id": _s(value.wallet_id), "contact_key": _s(value.contact_key), "amount": _n(value.amount),
                "currency": _s(value.currency), "status": _s("unclaimed"), "created_at": _s(value.created_at),
                "expires_at": _n(value.expires_at)}, "ConditionExpression": "attribute_not_exists(transfer_id)"}}
        if isinstance(value, InvitationOutcome):
            return self._invitation_outcome(value)
        if isinstance(value, PaymentRequest):
            return self._request_put(value)
        if isinstance(value, RequestOutcome):
            return self._request_outcome(value)
        if isinstance(value, AccountStatusChange):
            return {"Update": {"TableName": self.t[UserRecord], "Key": {"user_id": _s(value.user_id)},
                               "UpdateExpression": "SET #st = :new",
                               # Accounts made before statuses existed read as active.
                               "ConditionExpression": "attribute_exists(user_id) AND (#st = :from OR "
                                                      "(attribute_not_exists(#st) AND :from = :active))",
                               "ExpressionAttributeNames": {"#st": "status"},
                               "ExpressionAttributeValues": {":new": _s(value.status), ":from": _s(value.from_),
                                                             ":active": _s("active")}}}
        if isinstance(value, WithdrawalStatusChange):
            allowed = {f":from{i}": _s(s) for i, s in enumerate(value.from_)}
            return {"Update": {"TableName": self.t[WithdrawalRecord],
                               "Key": {"withdrawal_id": _s(value.withdrawal_id)},
                               "UpdateExpression": "SET #st = :new",
                               "ConditionExpression": f"#st IN ({', '.join(allowed)})",
                               "ExpressionAttributeNames": {"#st": "status"},
                               "ExpressionAttributeValues": {":new": _s(value.status), **allowed}}}
        if not isinstance(value, TopUpTotal):  # two items each: see _add_companion
            raise TypeError(f"{type(value).__name__} is not one item")
        condition = "(#a = :old OR (attribute_not_exists(#a) AND :old = :zero))"
        if value.at_most_refunded:
            condition += " AND refunded >= :new"
        return {"Update": {"TableName": self.t[TopUpRecord], "Key": {"topup_id": _s(value.topup_id)},
                           "UpdateExpression": "SET #a = :new", "ConditionExpression": condition,
                           "ExpressionAttributeNames": {"#a": value.attribute},
                           "ExpressionAttributeValues": {":new": _n(value.new), ":old": _n(value.old), ":zero": _n(0)}}}

    def _invitation_outcome(self, value: InvitationOutcome) -> dict[str, Any]:
        """Out of `unclaimed`, on the condition that says which outcome may still happen: a
        claim only before the expiry, an expiry only after it, a cancel only by the sender."""
        condition = "#st = :unclaimed"
        values = {":unclaimed": _s("unclaimed"), ":new": _s(value.status), ":at": _n(value.at)}
        if value.status == "posted":
            condition += " AND expires_at > :at"
        elif value.status == "expired":
            condition += " AND expires_at <= :at"
        elif value.status == "canceled":
            condition += " AND sender_id = :by"
        update = "SET #st = :new, resolved_at = :at"
        if value.status in ("posted", "canceled"):  # the claimer, or the sender who cancels
            if not value.by:
                raise ValueError(f"an invitation {value.status} needs `by`")
            values[":by"] = _s(value.by)
            update += ", claimed_by = :by" if value.status == "posted" else ""
        return {"Update": {"TableName": self.t[InvitationRecord], "Key": {"transfer_id": _s(value.transfer_id)},
                           "UpdateExpression": update, "ConditionExpression": condition,
                           "ExpressionAttributeNames": {"#st": "status"}, "ExpressionAttributeValues": values}}

    def _request_put(self, r: PaymentRequest) -> dict[str, Any]:
        item = {"request_id": _s(r.request_id), "requester_id": _s(r.requester_id), "payer_id": _s(r.payer_id),
                "amount": _n(r.amount), "currency": _s(r.currency), "status": _s("pending"),
                "waiting": _s("pending"), "created_at": _s(r.created_at),
                "created_sk": _s(f"{r.created_ms:013d}#{r.request_id}"), "expires_at": _n(r.expires_at)}
        if r.memo_ct:
            item["memo_ct"] = _s(r.memo_ct)
        return {"Put": {"TableName": self.t[PaymentRequestRecord], "Item": item,
                        "ConditionExpression": "attribute_not_exists(request_id)"}}

    def _request_outcome(self, value: RequestOutcome) -> dict[str, Any]:
        """Out of `pending` on the condition of domain.payment_request.RequestOutcome; the
        sparse `waiting` attribute goes, so the expiry sweep never sees it again."""
        values = {":pending": _s("pending"), ":new": _s(value.status), ":at": _n(value.at)}
        if value.status == "expired":
            condition = "#st = :pending AND expires_at <= :at"
        else:
            party = "requester_id" if value.status == "canceled" else "payer_id"
            condition = f"#st = :pending AND expires_at > :at AND {party} = :by"
            values[":by"] = _s(value.by or "")
        update = "SET #st = :new, resolved_at = :at REMOVE waiting"
        if value.transfer_id:
            update = "SET #st = :new, resolved_at = :at, transfer_id = :tr REMOVE waiting"
            values[":tr"] = _s(value.transfer_id)
        return {"Update": {"TableName": self.t[PaymentRequestRecord], "Key": {"request_id": _s(value.request_id)},
                           "UpdateExpression": update, "ConditionExpression": condition,
                           "ExpressionAttributeNames": {"#st": "status"}, "ExpressionAttributeValues": values}}

    def _transact(self, items: list[dict[str, Any]], roles: list[str], m: Movement | None,
                  explain: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Write `items` in one transaction, retrying contention. A failed condition raises
        the domain error its role means; `explain` (failed role -> the item as it was) may
        raise a more specific one first."""
        from botocore.exceptions import ClientError

        swept = status_written = False
        # A repair (a sweep of credit shards, a missing status item written) is not contention:
        # the try it triggers does not use up one of MAX_ATTEMPTS.
        attempt, limit = 0, MAX_ATTEMPTS
        while attempt < limit:
            attempt += 1
            self._last.attempts = attempt
            try:
                out = self._ddb.transact_write_items(TransactItems=items, **capacity_request(self.measure_capacity))
                self._last.consumed = out.get("ConsumedCapacity", [])
                return
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code == "TransactionCanceledException":
                    cancelled = exc.response.get("CancellationReasons", [])
                    reasons = [r.get("Code", "None") for r in cancelled]
                    failed = [(roles[i], c) for i, c in enumerate(reasons) if c not in ("None", "")]
                    if any(c == "ConditionalCheckFailed" for _, c in failed):
                        # The failed items themselves say why (ReturnValuesOnConditionCheckFailure):
                        # no second read that could see a different state.
                        olds = {roles[i]: r.get("Item") for i, r in enumerate(cancelled)
                                if r.get("Code") == "ConditionalCheckFailed"}
                        if not swept and m is not None and self._short_but_spread(olds.get("debit")):
                            # A high-volume wallet short on its main item: fold its credit
                            # shards in, once, and try again (whatever else failed: the retry
                            # then names the real reason).
                            swept = True
                            if self.sweep(m.from_wallet):
                                limit += 1
                                continue
                        if not status_written and "account" in olds:
                            # Fail closed, then look: an account whose status item is missing
                            # gets it from its user item, once, and the transaction runs again.
                            status_written = True
                            if self._write_missing_status(account_status.owner_checked(
                                    items[roles.index("account")])):
                                limit += 1
                                continue
                        if explain:
                            explain(olds)
                        self._raise_for([role for role, c in failed if c == "ConditionalCheckFailed"], m, olds)
                    if not all(c in RETRYABLE for _, c in failed):
                        raise
                elif code not in ("TransactionInProgressException", "ThrottlingException",
                                  "ProvisionedThroughputExceededException", "InternalServerError"):
                    raise
            # Contention on a hot item: back off with full jitter, then try again.
            from chalicelib import observability

            observability.count("TransactionConflict")
            self._sleep(backoff(attempt))
        raise ServiceUnavailable("The ledger is busy; retry with the same Idempotency-Key.")

    def _write_missing_status(self, owner_id: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return account_status.write_missing(self._ddb, self.t[AccountStatusRecord], self.t[UserRecord], owner_id)
        except (ClientError, BotoCoreError):
            # Throttled or timed out past botocore's own retries: nothing moved; the same key retries.
            raise ServiceUnavailable("The ledger is busy; retry with the same Idempotency-Key.") from None

    @staticmethod
    def _short_but_spread(item: dict[str, Any] | None) -> bool:
        return bool(item and int(item.get("credit_shards", {}).get("N", "0")) > 0
                    and item.get("status", {}).get("S") == "active")

    def _raise_for(self, roles: list[str], m: Movement | None, olds: dict[str, Any] | None = None) -> None:
        if "transfer" in roles or "idempotency" in roles or "resolve" in roles or "record" in roles:
            raise DuplicateRequest()
        if "account" in roles:  # before any money reason: a frozen account sends nothing
            raise AccountFrozen()
        if "request" in roles:  # paid, declined, canceled or expired meanwhile: before any money reason
            raise RequestNotPending()
        if "device" in roles:  # frozen or revoked while its allowance was being made
            raise DeviceInactive()
        if "daily" in roles:
            raise LimitExceeded()
        olds = olds or {}
        if "debit" in roles and m is not None:
            w = self._state_of(m.from_wallet, olds.get("debit"))
            if w is None or w[0] != "active":
                raise NotFound("The wallet was not found.")
            if w[1] != m.amount.currency:
                raise CurrencyMismatch()
            raise InsufficientFunds()
        if "credit" in roles and m is not None:
            w = self._state_of(m.to_wallet, olds.get("credit"))
            if w is not None and w[1] != m.amount.currency:
                raise CurrencyMismatch()
            raise RecipientNotFound()
        raise Conflict("The ledger changed concurrently.")

    def _state_of(self, wallet_id: str, item: dict[str, Any] | None) -> tuple[str, str] | None:
        """(status, currency) of the wallet as its failed condition saw it (ALL_OLD); read only
        when no image came back (the item did not exist, or an emulator omitted it)."""
        if item and "status" in item and "currency" in item:
            return str(item["status"]["S"]), str(item["currency"]["S"])
        found = self.get_wallet(wallet_id)
        return (found.status, found.currency) if found else None


def _role(record: WrittenWith) -> str:
    """How a companion's failed condition is read: a request that is no longer pending is
    `request_not_pending`; any other companion was written already (a duplicate)."""
    return "request" if isinstance(record, RequestOutcome) else "record"


def _money(amount: int, currency: str) -> Any:
    from chalicelib.domain.money import Money

    return Money(amount, currency)
