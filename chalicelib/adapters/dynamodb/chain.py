"""The hash chains and checkpoints on DynamoDB (docs/statements.md).

The chainer's one write per chain and batch is ONE TransactWriteItems: each entry gets its
`chain`, `chain_seq`, `hash` and `prev_hash` on the condition that it has none yet (so a
replayed stream record chains nothing twice), and the chain's head moves on the condition that
it is still where the hashes were computed from (so two chainers never fork a chain).
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib.adapters.dynamodb.connection import MAX_ATTEMPTS, backoff, capacity_request
from chalicelib.adapters.dynamodb.errors import condition_failed
from chalicelib.adapters.dynamodb.models import ChainHeadRecord, CheckpointRecord, EntryRecord
from chalicelib.adapters.dynamodb.tables import table_name
from chalicelib.config import Settings
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.notification import Change
from chalicelib.domain.statements import AlreadyChained, ChainLink, Checkpoint, Head, HeadMoved, Posting

# A transaction holds at most 100 items: the head and 99 entries.
MAX_LINKS_PER_WRITE = 99
_LEAF = "leaf#"
_HEADER = "checkpoint"


def _s(v: str) -> dict[str, str]:
    return {"S": v}


def _n(v: int) -> dict[str, str]:
    return {"N": str(v)}


def link_of(r: EntryRecord) -> ChainLink:
    return ChainLink(wallet_id=r.wallet_id, chain=str(r.chain), seq=int(r.chain_seq or 0),
                     posted_at=str(r.posted_at or r.created_at), transfer_id=r.transfer_id, type=r.type,
                     direction=r.direction, amount=int(r.amount), currency=r.currency, prev_hash=str(r.prev_hash),
                     hash=str(r.hash))


def posting_of(r: EntryRecord) -> Posting:
    """A posted entry as the chainer reads it (its chain: the shard it landed on, or its wallet)."""
    return Posting(wallet_id=r.wallet_id, sk=r.sk, chain=r.shard or r.wallet_id,
                   posted_at=str(r.posted_at or r.created_at), transfer_id=r.transfer_id, type=r.type,
                   direction=r.direction, amount=int(r.amount), currency=r.currency)


class DynamoChain:
    def __init__(self, settings: Settings, client: Any, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._ddb = client
        self._sleep = sleep
        self._entries = table_name(settings, EntryRecord)
        self._heads = table_name(settings, ChainHeadRecord)
        self.last_consumed: list[dict[str, Any]] = []
        self.measure_capacity = False  # benchmarks only (ledger.DynamoLedger.measure_capacity)

    # -- the chainer ------------------------------------------------------------------------------
    def head(self, chain: str) -> Head | None:
        r = ChainHeadRecord.find(chain)
        return Head(r.chain, int(r.seq), r.hash) if r else None

    def append(self, wallet_id: str, before: Head | None, links: list[tuple[ChainLink, str]], now: str) -> None:
        """Chain `links` (each with its entry's sort key) after `before` (None: a new chain) in one
        transaction. HeadMoved when the head is no longer `before`; AlreadyChained naming the
        entries chained meanwhile (or gone)."""
        from botocore.exceptions import ClientError

        if not links or len(links) > MAX_LINKS_PER_WRITE:
            raise ValueError("1 to 99 links per write")
        last = links[-1][0]
        head: dict[str, Any] = {"Put": {"TableName": self._heads, "Item": {
            "chain": _s(last.chain), "wallet_id": _s(wallet_id), "seq": _n(last.seq), "hash": _s(last.hash),
            "updated_at": _s(now)}}}
        if before is None:
            head["Put"]["ConditionExpression"] = "attribute_not_exists(chain)"
        else:
            head["Put"].update(ConditionExpression="seq = :seq AND #h = :hash", ExpressionAttributeNames={"#h": "hash"},
                               ExpressionAttributeValues={":seq": _n(before.seq), ":hash": _s(before.hash)})
        items = [head] + [{"Update": {
            "TableName": self._entries, "Key": {"wallet_id": _s(link.wallet_id), "sk": _s(sk)},
            "UpdateExpression": "SET chain = :c, chain_seq = :q, #h = :h, prev_hash = :p",
            "ConditionExpression": "attribute_exists(sk) AND attribute_not_exists(chain_seq)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD", "ExpressionAttributeNames": {"#h": "hash"},
            "ExpressionAttributeValues": {":c": _s(link.chain), ":q": _n(link.seq), ":h": _s(link.hash),
                                          ":p": _s(link.prev_hash)}}} for link, sk in links]
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                out = self._ddb.transact_write_items(TransactItems=items, **capacity_request(self.measure_capacity))
                self.last_consumed = out.get("ConsumedCapacity", [])  # bench/chain.py reads it
                return
            except ClientError as exc:
                error = exc.response.get("Error", {}).get("Code", "")
                reasons = exc.response.get("CancellationReasons", [])
                if error == "TransactionCanceledException" and any(
                        r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                    if reasons[0].get("Code") == "ConditionalCheckFailed":
                        raise HeadMoved() from None
                    done = [sk for (_, sk), r in zip(links, reasons[1:], strict=True)
                            if r.get("Code") == "ConditionalCheckFailed"]
                    gone = [sk for (_, sk), r in zip(links, reasons[1:], strict=True)
                            if r.get("Code") == "ConditionalCheckFailed" and not r.get("Item")]
                    raise AlreadyChained(set(done), set(gone)) from None
                if error not in ("TransactionCanceledException", "TransactionInProgressException",
                                 "ThrottlingException", "ProvisionedThroughputExceededException",
                                 "InternalServerError"):
                    raise
            self._sleep(backoff(attempt))
        raise ServiceUnavailable()

    # -- reads --------------------------------------------------------------------------------
    def heads(self) -> list[tuple[str, Head]]:
        """(wallet id, head) of every chain, read consistently."""
        return [(r.wallet_id, Head(r.chain, int(r.seq), r.hash)) for r in ChainHeadRecord.scan(consistent_read=True)]

    def links(self, chain: str, after: int = 0) -> list[ChainLink]:
        """A chain's links after seq `after`, in order (the index is eventually consistent: the
        newest links may be missing for a moment, never reordered)."""
        return [link_of(r) for r in EntryRecord.by_chain.query(chain, EntryRecord.chain_seq > after)]

    def wallet_entries(self, wallet_id: str) -> list[tuple[Posting, ChainLink | None]]:
        """Every posted entry of a wallet (all its chains), with its link once chained."""
        out: list[tuple[Posting, ChainLink | None]] = []
        for r in EntryRecord.query(wallet_id, consistent_read=True, filter_condition=EntryRecord.status == "posted"):
            out.append((posting_of(r), link_of(r) if r.chain_seq is not None else None))
        return out

    def scan_entries(self) -> Iterator[tuple[Posting, str, ChainLink | None]]:
        """Every entry: as a posting, its status, and its link once chained (verify-ledger)."""
        for r in EntryRecord.scan(consistent_read=True):
            yield posting_of(r), r.status, (link_of(r) if r.chain_seq is not None else None)

    # -- checkpoints --------------------------------------------------------------------------
    def save_checkpoint(self, cp: Checkpoint, heads: list[Head], paths: dict[str, list[dict[str, str]]]) -> None:
        """The leaves (each with its Merkle path) first, then the signed header, then the pointer
        to the newest: a reader that finds the pointer finds everything it names."""
        with CheckpointRecord.batch_write() as batch:
            for h in heads:
                batch.save(CheckpointRecord(cp.checkpoint_id, _LEAF + h.chain, chain=h.chain, seq=h.seq, hash=h.hash,
                                            path=json.dumps(paths[h.chain], separators=(",", ":"))))
        CheckpointRecord(cp.checkpoint_id, _HEADER, at=cp.at, root=cp.root, jws=cp.jws, chains=len(heads)).save()
        try:
            CheckpointRecord("latest", _HEADER, latest_id=cp.checkpoint_id).save(
                condition=CheckpointRecord.latest_id.does_not_exist() | (CheckpointRecord.latest_id < cp.checkpoint_id))
        except PutError as exc:
            # A maker that started later (the hourly job and an operator's run) already moved the
            # pointer past this one: the pointer never goes back, and this checkpoint stays
            # readable by its id.
            if not condition_failed(exc):
                raise

    def latest_checkpoint(self) -> Checkpoint | None:
        pointer = CheckpointRecord.find("latest", _HEADER)
        return self.checkpoint(str(pointer.latest_id)) if pointer else None

    def checkpoint(self, checkpoint_id: str) -> Checkpoint | None:
        r = CheckpointRecord.find(checkpoint_id, _HEADER)
        if r is None or r.root is None:
            return None
        return Checkpoint(r.checkpoint_id, str(r.at), r.root, str(r.jws))

    def checkpoint_leaf(self, checkpoint_id: str, chain: str) -> tuple[Head, list[dict[str, str]]] | None:
        r = CheckpointRecord.find(checkpoint_id, _LEAF + chain)
        return (Head(chain, int(r.seq or 0), str(r.hash)), json.loads(r.path or "[]")) if r else None

    def checkpoint_heads(self, checkpoint_id: str) -> list[Head]:
        return [Head(str(r.chain), int(r.seq or 0), str(r.hash)) for r in CheckpointRecord.query(
            checkpoint_id, CheckpointRecord.part.startswith(_LEAF), consistent_read=True)]

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first (verify-ledger)."""
        found = [Checkpoint(r.checkpoint_id, str(r.at), str(r.root), str(r.jws))
                 for r in CheckpointRecord.scan(consistent_read=True)
                 if r.part == _HEADER and r.root is not None]
        return sorted(found, key=lambda c: c.checkpoint_id)


def postings(changes: Iterable[Change]) -> Iterator[Posting]:
    """The posted, not yet chained entries among stream changes: an entry inserted posted, or a
    hold whose posting modified it. An entry removed is never the service's doing (it never
    deletes one): counted, for the alarm."""
    from chalicelib import observability

    for change in changes:
        if change.table != EntryRecord.table:
            continue
        if change.event == "REMOVE":
            observability.count("LedgerEntryRemoved")
            continue
        image = change.image
        if image.get("status") != "posted" or "chain_seq" in image:
            continue  # pending, voided, or the chainer's own write
        yield Posting(wallet_id=str(image["wallet_id"]), sk=str(image["sk"]),
                      chain=str(image.get("shard") or image["wallet_id"]),
                      posted_at=str(image.get("posted_at") or image["created_at"]),
                      transfer_id=str(image["transfer_id"]), type=str(image["type"]),
                      direction=str(image["direction"]), amount=int(image["amount"]), currency=str(image["currency"]))
