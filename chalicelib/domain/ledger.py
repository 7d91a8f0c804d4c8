"""Ledger rules: errors, transfer types, and the checks that need no database.

Everything that depends on the current balance (no overdraft, daily limit) is a condition
inside the DynamoDB transaction, never a read-then-decide here (docs/architecture.md).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import DomainError
from chalicelib.domain.errors import IdempotencyKeyReused as IdempotencyKeyReused  # its old home
from chalicelib.domain.money import Money
from chalicelib.domain.wallet import is_system_wallet


class InsufficientFunds(DomainError):
    """The wallet's available balance (balance - held) is below the amount."""

    code = "insufficient_funds"
    default_message = "The wallet does not have enough available funds."


class CurrencyMismatch(DomainError):
    """The currency of the request and of the wallets differ."""

    code = "currency_mismatch"
    default_message = "The currency does not match the wallet."


class SameWallet(DomainError):
    """A transfer from a wallet to itself."""

    code = "same_wallet"
    default_message = "The source and destination wallets are the same."


class LimitExceeded(DomainError):
    """The transfer would take the day's outgoing total above the configured limit."""

    code = "limit_exceeded"
    default_message = "The daily outgoing limit would be exceeded."


class RecipientNotFound(DomainError):
    """No account (or wallet) matches the recipient."""

    code = "recipient_not_found"
    default_message = "The recipient was not found."


class IdempotencyKeyRequired(DomainError):
    """A money-moving request without an Idempotency-Key header."""

    code = "idempotency_key_required"
    default_message = "The Idempotency-Key header is required (1 to 255 characters)."


class DuplicateRequest(Exception):
    """The transfer or idempotency record already exists: a concurrent retry won the race."""


@dataclass(frozen=True)
class IdempotencyPut:
    """The (user, operation, key) record written in the same transaction as the money."""

    key: str
    request_hash: str
    status_code: int
    response_ct: str
    resource_id: str
    expires_at: int


@dataclass(frozen=True)
class DailyLimit:
    """The day's outgoing-total counter a movement must fit in (a condition of its transaction)."""

    key: str
    limit: int  # minor units
    expires_at: int


TRANSFER_TYPES = ("transfer", "topup", "withdrawal", "refund", "reversal", "dispute", "offline", "exchange")
# What an account's owner sends out of it: a frozen account may not (its transaction checks the
# owner's account). Refunds, disputes and an operator's reversal take money back: never blocked.
OWNER_OUTFLOWS = ("transfer", "withdrawal", "offline", "exchange")
# What an operator may reverse: payments between people (money to or from outside has its own
# flows: refunds, disputes, payout failures).
REVERSIBLE = ("transfer", "offline")


@dataclass(frozen=True)
class Movement:
    """One balanced movement: `amount` leaves `from_wallet` and reaches `to_wallet` (two legs)."""

    transfer_id: str
    type: str
    from_wallet: str
    to_wallet: str
    amount: Money
    from_owner: str
    to_owner: str
    # The recipient's credit shards (a high-volume wallet): the credit lands on one of them.
    to_credit_shards: int = 0

    def __post_init__(self) -> None:
        if self.type not in TRANSFER_TYPES:
            raise ValueError(f"unknown transfer type {self.type}")
        if not self.amount.is_positive:
            raise ValueError("a movement moves a positive amount")
        if self.from_wallet == self.to_wallet:
            raise SameWallet()

    @property
    def by_owner(self) -> bool:
        """Whether the owner of the source wallet is sending this money (not a system account,
        and not money taken back): the movement's transaction then requires an unfrozen account."""
        return self.type in OWNER_OUTFLOWS and not is_system_wallet(self.from_wallet)


def request_hash(operation: str, body: dict[str, Any], mac: Callable[[str], str]) -> str:
    """A stable keyed hash of one operation's request body: same key + same hash is a replay,
    another hash a misuse. Keyed (an HMAC with a server secret), because the body holds the
    recipient's e-mail or phone and the memo: a plain hash in a table dump could be brute-forced
    back to them."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return mac(f"request:{operation}:{canonical}")


def reversal_id(transfer_id: str) -> str:
    """The one compensating transfer an operator can make for a payment."""
    return deterministic_id("rv", "ops", transfer_id)


def deterministic_id(prefix: str, *parts: str) -> str:
    """An id derived from (user, idempotency key, ...): a retry can only ever create the same id."""
    return f"{prefix}_{hashlib.sha256('|'.join(parts).encode('utf-8')).hexdigest()[:32]}"


def keyed_id(prefix: str, user_id: str, operation: str, key: str) -> str:
    """The id of what one operation makes for one (user, Idempotency-Key). The parts are JSON
    encoded, so no client key can make another operation's id (with `deterministic_id`'s "|"
    joins, a transfer keyed "op|K" would take the id of operation "op" keyed "K")."""
    encoded = json.dumps([user_id, operation, key], ensure_ascii=True)
    return f"{prefix}_{hashlib.sha256(encoded.encode('ascii')).hexdigest()[:32]}"


def default_wallet_id(owner_id: str, currency: str) -> str:
    """The id a user's default wallet of a currency is opened with. Derived, so a payment to an
    e-mail or phone can name the wallet as soon as it knows the owner, without reading the
    default pointer (one round trip less). Defaults opened before ids were derived have random
    ids: the pointer item stays the authority, read when this guess misses."""
    return keyed_id("wal", owner_id, "default_wallet", currency)


def check_idempotency_key(key: str | None) -> str:
    if key is None or not 1 <= len(key) <= 255:
        raise IdempotencyKeyRequired()
    return key
