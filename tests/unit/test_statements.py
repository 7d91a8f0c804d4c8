"""Statements people can check, without a database: the canonical encoding, the chain, Merkle
paths, a statement's figures, the chainer's exactly-once, and statement_verify on genuine and
tampered statements (docs/statements.md)."""
from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from chalicelib.adapters.ledger_keys import LedgerKeys
from chalicelib.adapters.signing_keys import generate_private_pem
from chalicelib.domain.errors import InvalidRequest
from chalicelib.domain.results import StatementView
from chalicelib.domain.statements import (
    GENESIS,
    AlreadyChained,
    ChainLink,
    Checkpoint,
    Head,
    HeadMoved,
    Posting,
    canonical,
    first_break,
    leaf_hash,
    link_hash,
    merkle_path,
    merkle_root,
    month_period,
    root_from_path,
)
from chalicelib.domain.wallet import Wallet
from chalicelib.services.statements import Chainer, Statements, statement_csv
from statement_verify import Invalid, verify

ROOT = Path(__file__).resolve().parents[2]


def test_the_canonical_encoding_is_sorted_compact_ascii_json():
    assert canonical({"b": 1, "a": "é"}) == b'{"a":"\\u00e9","b":1}'
    fields = {"amount": 1250, "chain": "wal_1", "currency": "USD", "direction": "credit",
              "posted_at": "2025-01-02T03:04:05.678Z", "seq": 1, "transfer_id": "tr_1", "type": "topup",
              "wallet_id": "wal_1"}
    text = ('{"amount":1250,"chain":"wal_1","currency":"USD","direction":"credit","posted_at":'
            '"2025-01-02T03:04:05.678Z","seq":1,"transfer_id":"tr_1","type":"topup","wallet_id":"wal_1"}')
    assert canonical(fields) == text.encode()
    assert link_hash(GENESIS, fields) == hashlib.sha256(("0" * 64 + text).encode()).hexdigest()


def posting(n: int, chain: str = "wal_1", direction: str = "credit", amount: int = 100) -> Posting:
    return Posting(wallet_id="wal_1", sk=f"{n:013d}#tr_{n}#c", chain=chain, posted_at=f"2025-01-{n:02d}T00:00:00.000Z",
                   transfer_id=f"tr_{n}", type="transfer", direction=direction, amount=amount, currency="USD")


def chain_of(postings: list[Posting]) -> list[ChainLink]:
    links, prev = [], GENESIS
    for i, p in enumerate(postings, 1):
        links.append(p.link(i, prev))
        prev = links[-1].hash
    return links


def test_a_chain_names_the_first_entry_changed_removed_or_inserted():
    links = chain_of([posting(n) for n in range(1, 6)])
    assert first_break(links) is None
    changed = [*links[:2], ChainLink(**{**links[2].__dict__, "amount": 1}), *links[3:]]
    assert first_break(changed) == (changed[2], "changed: its content no longer gives its hash")
    link, why = first_break(links[:2] + links[3:]) or (None, "")
    assert link == links[3] and why.startswith("removed")
    link, why = first_break([links[0], links[0], *links[1:]]) or (None, "")
    assert why.startswith("inserted")


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
def test_every_head_s_merkle_path_leads_to_the_root(n):
    heads = [Head(f"wal_{i}", i + 1, hashlib.sha256(str(i).encode()).hexdigest()) for i in range(n)]
    root = merkle_root(heads)
    for h in heads:
        assert root_from_path(leaf_hash(h), merkle_path(heads, h.chain)) == root
    moved = [Head(h.chain, h.seq + 1, h.hash) if h.chain == "wal_0" else h for h in heads]
    assert merkle_root(moved) != root


def test_months_are_utc_and_never_in_the_future():
    now = 1_738_000_000.0  # 2025-01-27
    assert month_period("2024-12", now) == (1_733_011_200_000, 1_735_689_599_999)
    assert month_period("2025-01", now)[1] == int(now * 1000)  # the current month runs to now
    for bad in ("2025-02", "2025-1", "2025-13", "abcd-ef"):
        with pytest.raises(InvalidRequest):
            month_period(bad, now)


class FakeChains:
    """The chain store's contract in memory (adapters.dynamodb.chain on DynamoDB)."""

    def __init__(self) -> None:
        self.heads_: dict[str, tuple[str, Head]] = {}
        self.entries: dict[tuple[str, str], ChainLink] = {}
        self.postings: dict[tuple[str, str], Posting] = {}
        self.cps: dict[str, tuple[Checkpoint, list[Head], dict[str, Any]]] = {}
        self.move_once = False

    def head(self, chain):
        return self.heads_.get(chain, ("", None))[1]

    def append(self, wallet_id, before, links, now):
        if self.move_once:
            self.move_once = False
            raise HeadMoved()
        if self.head(links[0][0].chain) != before:
            raise HeadMoved()
        done = {sk for _, sk in links if (wallet_id, sk) in self.entries}
        if done:
            raise AlreadyChained(done, set())
        for link, sk in links:
            self.entries[(wallet_id, sk)] = link
        last = links[-1][0]
        self.heads_[last.chain] = (wallet_id, Head(last.chain, last.seq, last.hash))

    def heads(self):
        return list(self.heads_.values())

    def links(self, chain, after=0):
        return sorted((x for x in self.entries.values() if x.chain == chain and x.seq > after), key=lambda x: x.seq)

    def wallet_entries(self, wallet_id):
        return [(p, self.entries.get(k)) for k, p in self.postings.items() if k[0] == wallet_id]

    def scan_entries(self):
        for k, p in self.postings.items():
            yield p, "posted", self.entries.get(k)

    def save_checkpoint(self, cp, heads, paths):
        self.cps[cp.checkpoint_id] = (cp, heads, paths)

    def latest_checkpoint(self):
        return self.cps[max(self.cps)][0] if self.cps else None

    def checkpoint(self, checkpoint_id):
        return self.cps[checkpoint_id][0] if checkpoint_id in self.cps else None

    def checkpoint_leaf(self, checkpoint_id, chain):
        _, heads, paths = self.cps[checkpoint_id]
        head = next((h for h in heads if h.chain == chain), None)
        return (head, paths[chain]) if head else None

    def checkpoint_heads(self, checkpoint_id):
        return self.cps[checkpoint_id][1]

    def checkpoints(self):
        return [self.cps[k][0] for k in sorted(self.cps)]


WALLET = Wallet("wal_1", "usr_1", "USD", "Main", 0, 0, 0, "active", "user", True, "2025-01-01T00:00:00.000Z")


@pytest.fixture
def world():
    store = FakeChains()
    keys = LedgerKeys(generate_private_pem())
    clock = [1_738_000_000.0]
    statements = Statements(store, keys, own_wallet=lambda user, wallet: WALLET, now=lambda: clock[0])
    return store, keys, statements, Chainer(store, now=lambda: clock[0])


def add(store: FakeChains, chainer: Chainer, postings: list[Posting]) -> None:
    for p in postings:
        store.postings[(p.wallet_id, p.sk)] = p
    chainer.chain(postings)


def test_the_chainer_links_each_entry_once_in_posting_order_whatever_the_replays(world):
    store, _, _, chainer = world
    store.move_once = True  # another chainer moved the head: recomputed, not forked
    add(store, chainer, [posting(3), posting(1), posting(2), posting(1)])
    add(store, chainer, [posting(2), posting(4, chain="wal_1#credit0")])  # a replay, and a shard's first
    links = store.links("wal_1")
    assert [(x.seq, x.transfer_id) for x in links] == [(1, "tr_1"), (2, "tr_2"), (3, "tr_3")]
    assert first_break(links) is None and store.links("wal_1#credit0")[0].seq == 1


def make_statement(world, n: int = 4) -> tuple[dict[str, Any], LedgerKeys]:
    store, keys, statements, chainer = world
    add(store, chainer, [posting(i, direction="debit" if i == 3 else "credit", amount=100 * i)
                         for i in range(1, n + 1)])
    add(store, chainer, [posting(n + 1, chain="wal_1#credit1", amount=7)])
    statements.make_checkpoint()
    # As a person downloads it: JSON, which the standalone verifier reads as a plain dict.
    return cast(dict[str, Any], statements.statement("usr_1", "wal_1", "2025-01")), keys


def test_a_statement_adds_up_and_verifies_with_only_its_json_and_the_keys(world):
    s, keys = make_statement(world)
    assert [i["seq"] for i in s["items"]] == [1, 2, 3, 4, 1]
    assert s["opening_balance"] + sum(i["amount"] if i["direction"] == "credit" else -i["amount"]
                                      for i in s["items"]) == s["closing_balance"] == 100 + 200 - 300 + 400 + 7
    assert verify(s, keys.jwks()).startswith("OK: 5 entries")
    csv = statement_csv(cast(StatementView, s)).split("\r\n")
    assert csv[0] == "seq,chain,posted_at,transfer_id,type,direction,amount,balance_after,hash,prev_hash"
    assert len(csv) == 7 and csv[-1] == ""  # a header, 5 rows, CRLF after each


def test_an_earlier_month_s_statement_carries_its_chain_on_to_the_checkpoint(world):
    store, keys, statements, chainer = world
    add(store, chainer, [posting(i) for i in range(1, 4)])
    later = Posting("wal_1", "x#tr_9#c", "wal_1", "2025-02-03T00:00:00.000Z", "tr_9", "transfer", "credit", 5, "USD")
    add(store, chainer, [later])
    statements.now = lambda: 1_739_000_000.0  # in February
    statements.make_checkpoint()
    s = statements.statement("usr_1", "wal_1", "2025-01")
    assert len(s["items"]) == 3 and [t["seq"] for t in s["proof"]["chains"][0]["tail"]] == [4]
    assert verify(s, keys.jwks()).startswith("OK")


@pytest.mark.parametrize("tamper, reason", [
    (lambda s: s["items"][1].update(amount=s["items"][1]["amount"] + 1), "balance_after"),
    (lambda s: (s["items"][1].update(amount=1, balance_after=s["items"][0]["balance_after"] + 1),
                [i.update(balance_after=i["balance_after"] - 199) for i in s["items"][2:]],
                s.update(closing_balance=s["closing_balance"] - 199)), "changed"),
    (lambda s: (s["items"].pop(1), [i.update(balance_after=i["balance_after"] - 200) for i in s["items"][1:]],
                s.update(closing_balance=s["closing_balance"] - 200)), "inserted or removed"),
    (lambda s: s["proof"]["chains"][0]["path"][0].update(hash="0" * 64), "Merkle"),
    (lambda s: s["proof"]["checkpoint"].update(root="1" * 64), "root"),
    (lambda s: s["proof"]["checkpoint"].update(jws=s["proof"]["checkpoint"]["jws"][:-4] + "AAAA"), "signature"),
    (lambda s: s.update(proof=None), "no checkpoint"),
])
def test_statement_verify_refuses_a_tampered_statement(world, tamper, reason):
    s, keys = make_statement(world)
    bad = copy.deepcopy(s)
    tamper(bad)
    with pytest.raises(Invalid, match=reason):
        verify(bad, keys.jwks())
    with pytest.raises(Invalid, match=r"signature|no Ed25519 key"):  # another operator's key
        verify(s, LedgerKeys(generate_private_pem()).jwks())


def test_the_command_line_exits_0_when_it_holds_and_1_with_the_reason(world, tmp_path):
    s, keys = make_statement(world)
    (tmp_path / "s.json").write_text(json.dumps(s))
    (tmp_path / "k.json").write_text(json.dumps(keys.jwks()))
    ok = subprocess.run([sys.executable, "-m", "statement_verify", str(tmp_path / "s.json"), "--keys",
                         str(tmp_path / "k.json")], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("OK"), ok.stdout + ok.stderr
    s["items"][0]["amount"] += 1
    (tmp_path / "s.json").write_text(json.dumps(s))
    bad = subprocess.run([sys.executable, "-m", "statement_verify", str(tmp_path / "s.json"), "--keys",
                          str(tmp_path / "k.json")], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stdout.startswith("NOT VERIFIED")


def test_statement_verify_needs_only_cryptography():
    imports = {line.split()[1].split(".")[0] for path in (ROOT / "statement_verify").glob("*.py")
               for line in path.read_text().splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "argparse", "base64", "hashlib", "json", "sys", "typing", "cryptography",
                       "statement_verify"}


def test_verify_ledger_names_the_first_entry_changed(world):
    store, _, statements, chainer = world
    add(store, chainer, [posting(i) for i in range(1, 5)])
    statements.make_checkpoint()
    assert statements.verify_ledger()["intact"] is True
    key = next(k for k, x in store.entries.items() if x.seq == 2)
    store.entries[key] = ChainLink(**{**store.entries[key].__dict__, "amount": 1})
    report = statements.verify_ledger()
    assert report["intact"] is False and report["first"]["seq"] == 2 and report["first"]["what"].startswith("changed")
