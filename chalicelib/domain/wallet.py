"""Wallets, transfers and entries as the services see them."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.user import Session


@dataclass(frozen=True)
class Wallet:
    wallet_id: str
    owner_id: str
    currency: str
    name: str
    balance: int
    held: int
    available: int
    status: str
    kind: str
    is_default: bool
    created_at: str
    # > 0: a high-volume (merchant) wallet whose credits land on that many shard items,
    # summed into `balance` and `available` when read (docs/hot-wallets.md).
    credit_shards: int = 0


@dataclass(frozen=True)
class Transfer:
    transfer_id: str
    type: str
    status: str
    from_wallet_id: str
    to_wallet_id: str
    from_owner: str
    to_owner: str
    amount: int
    currency: str
    memo_ct: str | None
    created_at: str
    debit_sk: str | None = None
    # A payment delivered in another currency (domain.fx): where and what the recipient got.
    delivered_to: str | None = None
    delivered_amount: int | None = None
    delivered_currency: str | None = None
    # The keyed hash of the request that made it, and whether the transfer itself answers that
    # request's retries (POST /transfers: no separate idempotency record; services.ledger).
    request_hash: str | None = None
    answers_retries: bool = False


@dataclass(frozen=True)
class Entry:
    wallet_id: str
    sk: str
    transfer_id: str
    type: str
    direction: str
    amount: int
    currency: str
    status: str
    counterparty_wallet_id: str | None
    created_at: str
    memo_ct: str | None = None
    # When it was posted, and its place in its chain once chained (docs/statements.md).
    posted_at: str | None = None
    chain: str | None = None
    chain_seq: int | None = None
    hash: str | None = None
    prev_hash: str | None = None


CREDIT_SHARD_KIND = "credit_shard"


def credit_shard_id(wallet_id: str, shard: int) -> str:
    """The item one shard of a high-volume wallet's credits accumulate on. The "#" cannot occur
    in a wallet id, and the item's kind is not "user": nobody can pay, read or spend it."""
    return f"{wallet_id}#credit{shard}"


@dataclass(frozen=True)
class PaymentReads:
    """What a payment must read, fetched together in one round trip (`LedgerStore.payment_reads`):
    each is None when it does not exist (or was not asked for)."""

    session: Session | None  # the caller's login, when the route left it to the payment
    earlier: Transfer | None  # the transfer this key made already: this is a retry
    # The wallets' main items only: a high-volume wallet's credit shards are not summed in
    # (the transaction's conditions decide about money, not these figures).
    source: Wallet | None
    recipient: Wallet | None  # when paying a wallet id
    contact_owner: str | None  # when paying an e-mail or phone: its owner, if VERIFIED


@dataclass(frozen=True)
class IdempotentResponse:
    request_hash: str
    status_code: int
    response_ct: str
    resource_id: str


SYSTEM_OWNER = "system"


def system_wallet_id(account: str, currency: str, shard: int) -> str:
    """A shard of a system account (e.g. Stripe clearing): system accounts may go negative and
    are spread over shards so no single item becomes a hot key (~1000 WCU/s per item)."""
    return f"sys:{account}:{currency}:{shard}"


def is_system_wallet(wallet_id: str) -> bool:
    return wallet_id.startswith("sys:")
