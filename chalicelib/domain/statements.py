"""Statements people can check: the hash chain of posted entries, the Merkle tree over chain
heads, and the arithmetic of a statement. Pure rules (docs/statements.md has the exact
encoding; `statement_verify/` re-implements the checking side independently, on purpose: a
verifier that imported this module would trust what it is meant to check).

- A chain is one wallet's posted entries (one credit shard's, for a high-volume wallet), in the
  order they were chained: `seq` 1, 2, 3...; `hash = SHA-256(prev_hash || canonical(entry))`
  with `prev_hash` and `hash` as 64 lower-case hex characters, the first `prev_hash` 64 zeros.
- A checkpoint's root is a Merkle tree over every chain's head (leaves sorted by chain id), so
  one signature commits to every wallet's history at once, and each wallet gets a short path.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.errors import InvalidRequest
from chalicelib.domain.results import CheckpointView, StatementItemView

GENESIS = "0" * 64
# What a chained entry commits to: everything a statement shows about it, and where it sits.
# `balance_after` is not in it: it is derived (the sum of what precedes it), never stored.
CANONICAL_FIELDS = ("amount", "chain", "currency", "direction", "posted_at", "seq", "transfer_id", "type",
                    "wallet_id")
CHECKPOINT_TYP = "ledger-checkpoint+jws"


def canonical(fields: dict[str, Any]) -> bytes:
    """The bytes hashed for one value: JSON with keys sorted, no whitespace, ASCII only (any other
    character as a \\uXXXX escape), integers in decimal. Every JSON library can reproduce it."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


@dataclass(frozen=True)
class ChainLink:
    """One posted entry at its place in its chain."""

    wallet_id: str
    chain: str  # the wallet id, or its credit shard's id (`<wallet>#credit<k>`)
    seq: int
    posted_at: str  # RFC 3339, UTC, milliseconds
    transfer_id: str
    type: str
    direction: str  # debit | credit
    amount: int  # minor units, positive
    currency: str
    prev_hash: str
    hash: str

    def fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CANONICAL_FIELDS}

    @property
    def signed_amount(self) -> int:
        return self.amount if self.direction == "credit" else -self.amount


def link_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 of the previous hash's 64 ASCII hex characters followed by the entry's canonical JSON."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(fields)).hexdigest()


def first_break(links: Sequence[ChainLink]) -> tuple[ChainLink, str] | None:
    """Where a chain (its links in `seq` order, from 1) stops holding, or None if it holds: the
    first link that does not follow, and why."""
    prev, expected = GENESIS, 1
    for link in links:
        if link.seq != expected:
            what = "removed" if link.seq > expected else "inserted"
            return link, f"{what}: seq {expected} expected before this entry, found seq {link.seq}"
        if link.prev_hash != prev:
            return link, "inserted or removed: its prev_hash is not the previous entry's hash"
        if link_hash(prev, link.fields()) != link.hash:
            return link, "changed: its content no longer gives its hash"
        prev, expected = link.hash, expected + 1
    return None


@dataclass(frozen=True)
class Posting:
    """A posted entry as the chainer receives it (from the entries stream): not yet linked."""

    wallet_id: str
    sk: str
    chain: str
    posted_at: str
    transfer_id: str
    type: str
    direction: str
    amount: int
    currency: str

    def link(self, seq: int, prev_hash: str) -> ChainLink:
        unhashed = ChainLink(wallet_id=self.wallet_id, chain=self.chain, seq=seq, posted_at=self.posted_at,
                             transfer_id=self.transfer_id, type=self.type, direction=self.direction,
                             amount=self.amount, currency=self.currency, prev_hash=prev_hash, hash="")
        return replace(unhashed, hash=link_hash(prev_hash, unhashed.fields()))


class HeadMoved(Exception):
    """Another chainer moved the chain's head first: read it again and recompute."""


class AlreadyChained(Exception):
    """Some entries of a chain write were chained already (a replayed record), or are gone."""

    def __init__(self, done: set[str], gone: set[str]) -> None:
        super().__init__(f"{len(done)} entries chained already or gone")
        self.done, self.gone = done, gone


@dataclass(frozen=True)
class Checkpoint:
    checkpoint_id: str
    at: str
    root: str
    jws: str

    def view(self) -> CheckpointView:
        return {"checkpoint_id": self.checkpoint_id, "at": self.at, "root": self.root, "jws": self.jws}


# -- the Merkle tree over chain heads ---------------------------------------------------------------
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class Head:
    chain: str
    seq: int
    hash: str


def leaf_hash(head: Head) -> str:
    """0x00 || canonical {chain, hash, seq}: a leaf can never be read as an inner node (0x01)."""
    return hashlib.sha256(b"\x00" + canonical({"chain": head.chain, "hash": head.hash, "seq": head.seq})).hexdigest()


def node_hash(left: str, right: str) -> str:
    return hashlib.sha256(b"\x01" + bytes.fromhex(left) + bytes.fromhex(right)).hexdigest()


def _levels(heads: Sequence[Head]) -> list[list[str]]:
    level = [leaf_hash(h) for h in sorted(heads, key=lambda h: h.chain)]
    levels = [level]
    while len(level) > 1:
        # Pairs from the left; an odd last node goes up unchanged (never paired with itself,
        # which would let two trees share a root).
        level = [node_hash(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


def merkle_root(heads: Sequence[Head]) -> str:
    return _levels(heads)[-1][0] if heads else EMPTY_ROOT


def merkle_path(heads: Sequence[Head], chain: str) -> list[dict[str, str]]:
    """The siblings from `chain`'s leaf up to the root, each with the side it sits on."""
    ordered = sorted(heads, key=lambda h: h.chain)
    index = next(i for i, h in enumerate(ordered) if h.chain == chain)
    path = []
    for level in _levels(ordered)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append({"side": "left" if sibling < index else "right", "hash": level[sibling]})
        index //= 2
    return path


def root_from_path(leaf: str, path: Iterable[dict[str, str]]) -> str:
    node = leaf
    for step in path:
        node = node_hash(step["hash"], node) if step["side"] == "left" else node_hash(node, step["hash"])
    return node


# -- periods and statements ---------------------------------------------------------------------------
def parse_instant(value: str, field: str = "at") -> float:
    """An RFC 3339 instant with an explicit offset, as epoch seconds (400 otherwise)."""
    try:
        at = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None or "T" not in value.upper():
        raise InvalidRequest("Give an RFC 3339 instant with its offset.",
                             details=[{"field": field, "message": "e.g. 2025-01-31T23:59:59Z"}])
    return at.timestamp()


def month_period(month: str, now: float) -> tuple[int, int]:
    """[from, to] of a UTC month `YYYY-MM` in epoch milliseconds, both ends included (`to` is
    the month's last millisecond, so the closing balance is the balance AT `to`, as
    `balance_at` counts); the current month runs to now; a future or malformed month is refused."""
    try:
        if len(month) != 7 or month[4] != "-":
            raise ValueError(month)
        start = datetime(int(month[:4]), int(month[5:]), 1, tzinfo=UTC)
    except ValueError:
        raise InvalidRequest("The month is YYYY-MM.", details=[{"field": "month", "message": "e.g. 2025-01"}]) from None
    end = datetime(start.year + (start.month == 12), start.month % 12 + 1, 1, tzinfo=UTC)
    if start.timestamp() > now:
        raise InvalidRequest("That month has not begun.", details=[{"field": "month", "message": "a future month"}])
    return int(start.timestamp() * 1000), min(int(end.timestamp() * 1000) - 1, int(now * 1000))


def posted_ms(link: ChainLink) -> int:
    return int(parse_instant(link.posted_at) * 1000)


def balance_at(links: Iterable[ChainLink], at_ms: int) -> int:
    """The posted balance at an instant: what was posted at or before it (holds never count)."""
    return sum(link.signed_amount for link in links if posted_ms(link) <= at_ms)


def statement_items(links: Iterable[ChainLink], from_ms: int,
                    to_ms: int) -> tuple[int, list[StatementItemView], int]:
    """(opening, items oldest first with balance_after, closing) of the period [from, to]."""
    ordered = sorted(links, key=lambda x: (posted_ms(x), x.chain, x.seq))
    opening = sum(x.signed_amount for x in ordered if posted_ms(x) < from_ms)
    balance, items = opening, list[StatementItemView]()
    for x in ordered:
        if from_ms <= posted_ms(x) <= to_ms:
            balance += x.signed_amount
            items.append({"seq": x.seq, "chain": x.chain, "posted_at": x.posted_at, "transfer_id": x.transfer_id,
                          "type": x.type, "direction": x.direction, "amount": x.amount, "balance_after": balance,
                          "hash": x.hash, "prev_hash": x.prev_hash})
    return opening, items, balance
