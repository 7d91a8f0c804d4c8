"""Wallets, transfers and entries as the services see them."""
from __future__ import annotations

from dataclasses import dataclass


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
