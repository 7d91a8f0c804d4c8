"""Statements people can check (docs/statements.md): balances at an instant, monthly statements
with their proof, the chainer, signed checkpoints, and `ops verify-ledger`'s recomputation.

The chain is computed from the entries stream, never in the money's transaction: a transfer
stays one batch read and one transaction, and no hot item (a merchant's shard, a system
account) gets a second contended value to agree on.
"""
from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from chalicelib import observability
from chalicelib.domain.errors import InvalidRequest, NotFound, ServiceUnavailable
from chalicelib.domain.ids import rfc3339
from chalicelib.domain.results import (
    BalanceView,
    ChainProblem,
    ChainProofView,
    CheckpointMade,
    CheckpointView,
    LedgerVerified,
    LinkView,
    ProofView,
    StatementItemView,
    StatementView,
)
from chalicelib.domain.statements import (
    GENESIS,
    AlreadyChained,
    ChainLink,
    Checkpoint,
    Head,
    HeadMoved,
    Posting,
    balance_at,
    first_break,
    leaf_hash,
    link_hash,
    merkle_path,
    merkle_root,
    month_period,
    parse_instant,
    root_from_path,
    statement_items,
)
from chalicelib.domain.wallet import Wallet

log = logging.getLogger(__name__)

CHAIN_TRIES = 10
# An entry posted longer ago than this and still unchained did not come through the stream the
# service writes: verify-ledger names it (the chainer normally takes well under a second).
CHAIN_LAG_SECONDS = 300


class ChainStore(Protocol):
    def head(self, chain: str) -> Head | None: ...

    def append(self, wallet_id: str, before: Head | None, links: list[tuple[ChainLink, str]], now: str) -> None:
        """HeadMoved / AlreadyChained: see adapters.dynamodb.chain."""

    def heads(self) -> list[tuple[str, Head]]: ...

    def links(self, chain: str, after: int = 0) -> list[ChainLink]: ...

    def wallet_entries(self, wallet_id: str) -> list[tuple[Posting, ChainLink | None]]: ...

    def scan_entries(self) -> Iterator[tuple[Posting, str, ChainLink | None]]: ...

    def save_checkpoint(self, cp: Checkpoint, heads: list[Head], paths: dict[str, list[dict[str, str]]]) -> None: ...

    def latest_checkpoint(self) -> Checkpoint | None: ...

    def checkpoint(self, checkpoint_id: str) -> Checkpoint | None: ...

    def checkpoint_leaf(self, checkpoint_id: str, chain: str) -> tuple[Head, list[dict[str, str]]] | None: ...

    def checkpoint_heads(self, checkpoint_id: str) -> list[Head]: ...

    def checkpoints(self) -> list[Checkpoint]: ...


class CheckpointSigner(Protocol):
    def sign_checkpoint(self, claims: dict[str, Any]) -> str: ...

    def checkpoint_claims(self, jws: str) -> dict[str, Any] | None:
        """The payload if a key of ours signed it, else None."""

    def jwks(self) -> dict[str, Any]: ...


@dataclass
class Chainer:
    """Links posted entries into their chains, from the entries stream, exactly once each."""

    store: ChainStore
    now: Callable[[], float] = time.time

    def chain(self, postings: Iterable[Posting]) -> int:
        groups: dict[str, dict[str, Posting]] = {}
        for p in postings:  # a record seen twice in a batch is one posting
            groups.setdefault(p.chain, {})[p.sk] = p
        chained = 0
        for group in groups.values():
            # Posting order within a batch; the stream already gives it across batches.
            ordered = sorted(group.values(), key=lambda p: (p.posted_at, p.sk))
            for i in range(0, len(ordered), 99):
                chained += self._append(ordered[i:i + 99])
        return chained

    def _append(self, postings: list[Posting]) -> int:
        for _ in range(CHAIN_TRIES):
            head = self.store.head(postings[0].chain)
            prev, seq = (head.hash, head.seq) if head else (GENESIS, 0)
            links = []
            for p in postings:
                seq += 1
                link = p.link(seq, prev)
                links.append((link, p.sk))
                prev = link.hash
            try:
                self.store.append(postings[0].wallet_id, head, links, rfc3339(self.now()))
                return len(postings)
            except HeadMoved:
                continue
            except AlreadyChained as done:
                if done.gone:  # deleted between its write and its chaining: an insider's edit
                    observability.count("LedgerEntryGone", len(done.gone))
                    log.error("entries of %s deleted before they were chained: %s", postings[0].wallet_id,
                              sorted(done.gone))
                postings = [p for p in postings if p.sk not in done.done]
                if not postings:
                    return 0
        raise ServiceUnavailable("The chain is busy.")


def _link_view(x: ChainLink) -> LinkView:
    return {"seq": x.seq, "chain": x.chain, "posted_at": x.posted_at, "transfer_id": x.transfer_id, "type": x.type,
            "direction": x.direction, "amount": x.amount, "hash": x.hash, "prev_hash": x.prev_hash}


def _unchained(p: Posting) -> ChainLink:
    """A posted entry the chainer has not reached yet (a second or so): no place, no hash."""
    return ChainLink(wallet_id=p.wallet_id, chain=p.chain, seq=0, posted_at=p.posted_at, transfer_id=p.transfer_id,
                     type=p.type, direction=p.direction, amount=p.amount, currency=p.currency, prev_hash="", hash="")


@dataclass
class Statements:
    store: ChainStore
    signer: CheckpointSigner
    # The caller's own wallet (NotFound otherwise): Ledger.wallet.
    own_wallet: Callable[[str, str], Wallet]
    now: Callable[[], float] = time.time

    # -- a person's reads ---------------------------------------------------------------------
    def _links(self, wallet_id: str) -> list[ChainLink]:
        return [link or _unchained(p) for p, link in self.store.wallet_entries(wallet_id)]

    def balance(self, user_id: str, wallet_id: str, at: str) -> BalanceView:
        w = self.own_wallet(user_id, wallet_id)
        instant = parse_instant(at)
        if instant > self.now():
            raise InvalidRequest("That instant is in the future.",
                                 details=[{"field": "at", "message": "in the future"}])
        return {"wallet_id": w.wallet_id, "currency": w.currency, "at": rfc3339(instant),
                "balance": balance_at(self._links(w.wallet_id), int(instant * 1000))}

    def statement(self, user_id: str, wallet_id: str, month: str,
                  checkpoint_id: str | None = None) -> StatementView:
        w = self.own_wallet(user_id, wallet_id)
        from_ms, to_ms = month_period(month, self.now())
        links = self._links(w.wallet_id)
        opening, items, closing = statement_items(links, from_ms, to_ms)
        for item in items:
            if not item["hash"]:  # not chained yet: shown, without a place in a chain
                item["seq"] = item["hash"] = item["prev_hash"] = None
        return {"wallet_id": w.wallet_id, "currency": w.currency,
                "period": {"from": rfc3339(from_ms / 1000), "to": rfc3339(to_ms / 1000)},
                "opening_balance": opening, "closing_balance": closing, "items": items,
                "proof": self._proof(items, links, checkpoint_id)}

    def _proof(self, items: list[StatementItemView], links: list[ChainLink],
               checkpoint_id: str | None) -> ProofView | None:
        """The checkpoint (the latest, or the one asked for) with, for each chain the items are
        on, the Merkle path of its head there and the links from the last item to that head.
        None when that checkpoint does not cover the last item yet (at most an hour)."""
        cp = self.store.checkpoint(checkpoint_id) if checkpoint_id else self.store.latest_checkpoint()
        if cp is None:
            if checkpoint_id:
                raise NotFound("The checkpoint was not found.")
            return None
        if any(item["seq"] is None for item in items):
            return None
        last: dict[str, int] = {}
        for item in items:
            last[item["chain"]] = max(last.get(item["chain"], 0), item["seq"] or 0)
        chains: list[ChainProofView] = []
        for chain, seq in sorted(last.items()):
            leaf = self.store.checkpoint_leaf(cp.checkpoint_id, chain)
            if leaf is None or leaf[0].seq < seq:
                return None
            head, path = leaf
            tail = sorted((x for x in links if x.chain == chain and seq < x.seq <= head.seq), key=lambda x: x.seq)
            chains.append({"chain": chain, "head": {"seq": head.seq, "hash": head.hash}, "path": path,
                           "tail": [_link_view(x) for x in tail]})
        return {"checkpoint": cp.view(), "chains": chains}

    # -- checkpoints --------------------------------------------------------------------------
    def latest(self) -> CheckpointView:
        cp = self.store.latest_checkpoint()
        if cp is None:
            raise NotFound("No checkpoint has been made yet.")
        return cp.view()

    def make_checkpoint(self) -> CheckpointMade:
        """Sign a Merkle root over every chain's head. A head is taken only as far as its chain
        verifies from the previous checkpoint's head on: a chain rewritten in the tables is
        reported (LedgerChainBroken), never signed."""
        now = self.now()
        previous = self.store.latest_checkpoint()
        before = {h.chain: h for h in self.store.checkpoint_heads(previous.checkpoint_id)} if previous else {}
        heads: dict[str, Head] = dict(before)
        broken = []
        for _, head in self.store.heads():
            start = before.get(head.chain)
            if start == head:
                continue
            reached, problem = self._extend(start, head)
            if problem:
                broken.append(f"{head.chain}: {problem}")
            if reached is not None:
                heads[head.chain] = reached
        if broken:
            observability.count("LedgerChainBroken", len(broken))
            log.error("chains that do not extend the last checkpoint: %s", broken[:20])
        leaves = sorted(heads.values(), key=lambda h: h.chain)
        root = merkle_root(leaves)
        # Time-ordered, and unique: two makers in the same millisecond must not share leaves.
        cp_id = f"cp_{int(now * 1000):013d}_{secrets.token_hex(4)}"
        at = rfc3339(now)
        jws = self.signer.sign_checkpoint({"checkpoint_id": cp_id, "at": at, "root": root})
        cp = Checkpoint(cp_id, at, root, jws)
        self.store.save_checkpoint(cp, leaves, {h.chain: merkle_path(leaves, h.chain) for h in leaves})
        return {"checkpoint_id": cp_id, "chains": len(leaves), "broken": len(broken)}

    def _extend(self, start: Head | None, head: Head) -> tuple[Head | None, str | None]:
        """How far the chain verifies from `start` toward `head` (its links read from the index,
        which may lag by a moment: then it stops short, and the next checkpoint goes on)."""
        prev, seq, reached = (start.hash, start.seq, start) if start else (GENESIS, 0, None)
        links = self.store.links(head.chain, max(seq - 1, 0))
        if start is not None:  # what was signed must still be there, unchanged
            if not links or (links[0].seq, links[0].hash) != (start.seq, start.hash) or head.seq < start.seq:
                return start, f"seq {start.seq} is no longer what checkpoint signed"
            links = links[1:]
        for link in links:
            if link.seq != seq + 1 or link.prev_hash != prev or link_hash(prev, link.fields()) != link.hash:
                return reached, f"seq {link.seq} does not extend seq {seq}"
            prev, seq = link.hash, link.seq
            reached = Head(head.chain, seq, prev)
            if seq == head.seq:
                break
        return reached, None

    # -- ops verify-ledger ----------------------------------------------------------------------
    def verify_ledger(self) -> LedgerVerified:
        """Recompute every chain from the entries and every checkpoint from its leaves and its
        signature; name the first entry changed, removed or inserted outside the service."""
        problems: list[ChainProblem] = []
        chains: dict[str, list[ChainLink]] = {}
        heads = {head.chain: head for _, head in self.store.heads()}
        for chain, head in heads.items():
            links = self.store.links(chain)
            if links and links[-1].seq < head.seq:  # the index may lag a moment behind the head
                time.sleep(1)
                links = self.store.links(chain)
            chains[chain] = links
            broken = first_break(links)
            if broken:
                problems.append(_problem(*broken))
            elif not links or links[-1].seq != head.seq or links[-1].hash != head.hash:
                problems.append({"chain": chain, "seq": links[-1].seq + 1 if links else 1,
                                 "what": "removed: the chain's head is past its last entry", "posted_at": "~"})
        entries = 0
        cutoff = rfc3339(self.now() - CHAIN_LAG_SECONDS)
        for posting, status, chained in self.store.scan_entries():
            entries += 1
            if chained is None and status == "posted" and posting.posted_at < cutoff:
                problems.append({"wallet_id": posting.wallet_id, "chain": posting.chain, "seq": None,
                                 "transfer_id": posting.transfer_id, "posted_at": posting.posted_at,
                                 "what": "inserted outside the service: a posted entry that was never chained"})
            elif chained is not None and (status != "posted" or chained.chain not in heads):
                problems.append(_problem(chained, f"inserted outside the service: a chained entry that is {status}"
                                               if status != "posted" else "inserted: its chain has no head"))
        checkpoints = self.store.checkpoints()
        for cp in checkpoints:
            problem = self._check_checkpoint(cp, chains)
            if problem:
                problems.append(problem)
        problems.sort(key=lambda p: str(p.get("posted_at") or ""))
        return {"intact": not problems, "chains": len(heads), "entries": entries, "checkpoints": len(checkpoints),
                "first": problems[0] if problems else None, "problems": problems[:100],
                "problem_count": len(problems)}

    def _check_checkpoint(self, cp: Checkpoint, chains: dict[str, list[ChainLink]]) -> ChainProblem | None:
        claims = self.signer.checkpoint_claims(cp.jws)
        if claims != {"checkpoint_id": cp.checkpoint_id, "at": cp.at, "root": cp.root}:
            return {"checkpoint_id": cp.checkpoint_id, "posted_at": cp.at, "what": "checkpoint: signature or payload"}
        leaves = self.store.checkpoint_heads(cp.checkpoint_id)
        if merkle_root(leaves) != cp.root:
            return {"checkpoint_id": cp.checkpoint_id, "posted_at": cp.at, "what": "checkpoint: leaves changed"}
        for leaf in leaves:
            links = chains.get(leaf.chain, [])
            at = links[leaf.seq - 1] if 0 < leaf.seq <= len(links) else None
            if at is None or at.seq != leaf.seq or at.hash != leaf.hash:
                where = at or (links[-1] if links else None)
                if where is None:
                    return {"chain": leaf.chain, "posted_at": cp.at,
                            "what": f"removed since checkpoint {cp.checkpoint_id}"}
                return _problem(where, f"changed since checkpoint {cp.checkpoint_id}")
        return None


def _problem(link: ChainLink, what: str) -> ChainProblem:
    return {"wallet_id": link.wallet_id, "chain": link.chain, "seq": link.seq, "transfer_id": link.transfer_id,
            "posted_at": link.posted_at, "what": what}


def statement_csv(statement: StatementView) -> str:
    """RFC 4180: a header row, one row per item, CRLF line ends, fields quoted when they must be."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = ["seq", "chain", "posted_at", "transfer_id", "type", "direction", "amount", "balance_after", "hash",
               "prev_hash"]
    writer.writerow(columns)
    for item in statement["items"]:
        row = cast(Mapping[str, object], item)  # the columns by name
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
    return out.getvalue()


def proof_root(proof: ProofView, chain: str) -> str:
    """The root a proof's path gives for one chain (tests and the web use it to show a check)."""
    entry = next(c for c in proof["chains"] if c["chain"] == chain)
    head = Head(chain, entry["head"]["seq"], entry["head"]["hash"])
    return root_from_path(leaf_hash(head), entry["path"])


__all__ = ["ChainStore", "Chainer", "CheckpointSigner", "Statements", "proof_root", "statement_csv"]
