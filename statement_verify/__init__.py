"""Check a wallet statement without the operator's servers (docs/statements.md).

Needs only `cryptography` (for Ed25519). Written apart from the service's own code on purpose:
a verifier that imported the service would trust what it is meant to check. It checks that

1. the figures add up: opening + credits - debits = closing, each `balance_after` on the way;
2. each chain's items follow one another: `seq` one apart, each `prev_hash` the previous `hash`,
   each `hash` = SHA-256(prev_hash || canonical JSON of the entry);
3. the proof's tail carries each chain on to its head at the checkpoint, whose leaf, folded up
   the Merkle path, gives the checkpoint's root;
4. the checkpoint is signed (compact JWS, EdDSA) by a key of LEDGER-KEYS.json (the JWKS at
   /.well-known/ledger-keys.json), over exactly its id, time and root;
5. with `--checkpoint SAVED.json`: the proof is against that checkpoint, saved earlier.
"""
from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

GENESIS = "0" * 64


class Invalid(Exception):
    """The statement does not verify; the message says why."""


def canonical(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def entry_hash(prev_hash: str, wallet_id: str, currency: str, item: dict[str, Any]) -> str:
    fields = {"amount": item["amount"], "chain": item["chain"], "currency": currency, "direction": item["direction"],
              "posted_at": item["posted_at"], "seq": item["seq"], "transfer_id": item["transfer_id"],
              "type": item["type"], "wallet_id": wallet_id}
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(fields)).hexdigest()


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_signature(checkpoint: dict[str, Any], keys: dict[str, Any]) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        head_b64, payload_b64, signature_b64 = str(checkpoint["jws"]).split(".")
        header, payload = json.loads(_b64(head_b64)), json.loads(_b64(payload_b64))
    except (ValueError, KeyError) as exc:
        raise Invalid(f"the checkpoint's JWS is malformed ({exc})") from None
    if header.get("alg") != "EdDSA":
        raise Invalid(f"the checkpoint is signed with {header.get('alg')!r}, not EdDSA")
    jwk = next((k for k in keys.get("keys", []) if k.get("kid") == header.get("kid")), None)
    if jwk is None or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise Invalid(f"no Ed25519 key {header.get('kid')!r} in the ledger keys")
    try:
        Ed25519PublicKey.from_public_bytes(_b64(jwk["x"])).verify(
            _b64(signature_b64), f"{head_b64}.{payload_b64}".encode("ascii"))
    except (InvalidSignature, ValueError):
        raise Invalid("the checkpoint's signature does not verify") from None
    for name in ("checkpoint_id", "at", "root"):
        if payload.get(name) != checkpoint.get(name):
            raise Invalid(f"the signed checkpoint's {name} is not the one shown")


def merkle_root(chain: str, head: dict[str, Any], path: list[dict[str, str]]) -> str:
    node = hashlib.sha256(b"\x00" + canonical({"chain": chain, "hash": head["hash"], "seq": head["seq"]})).hexdigest()
    for step in path:
        pair = (step["hash"], node) if step["side"] == "left" else (node, step["hash"])
        node = hashlib.sha256(b"\x01" + bytes.fromhex(pair[0]) + bytes.fromhex(pair[1])).hexdigest()
    return node


def _follow(links: list[dict[str, Any]], after: tuple[int, str] | None, wallet_id: str, currency: str,
            what: str) -> tuple[int, str]:
    """Walk links of one chain; return (seq, hash) of the last."""
    seq, prev = after if after else (links[0]["seq"] - 1, links[0]["prev_hash"])
    if after is None and seq == 0 and prev != GENESIS:
        raise Invalid(f"{what}: the chain's first entry must follow 64 zeros")
    for link in links:
        if link["seq"] != seq + 1:
            raise Invalid(f"{what}: seq {link['seq']} follows seq {seq} (an entry inserted or removed)")
        if link["prev_hash"] != prev:
            raise Invalid(f"{what}: entry seq {link['seq']} does not follow the previous entry's hash")
        if entry_hash(prev, wallet_id, currency, link) != link["hash"]:
            raise Invalid(f"{what}: entry seq {link['seq']} ({link['transfer_id']}) was changed: its hash differs")
        seq, prev = link["seq"], link["hash"]
    return seq, prev


def check_figures(statement: dict[str, Any]) -> None:
    balance = statement["opening_balance"]
    for item in statement["items"]:
        balance += item["amount"] if item["direction"] == "credit" else -item["amount"]
        if item["balance_after"] != balance:
            raise Invalid(f"balance_after of {item['transfer_id']} is {item['balance_after']}, not {balance}")
    if balance != statement["closing_balance"]:
        raise Invalid(f"opening + credits - debits = {balance}, not the closing balance {statement['closing_balance']}")


def verify(statement: dict[str, Any], keys: dict[str, Any], saved: dict[str, Any] | None = None) -> str:
    """A one-line summary when the statement verifies; Invalid otherwise."""
    wallet_id, currency, items = statement["wallet_id"], statement["currency"], statement["items"]
    check_figures(statement)
    if any(item.get("seq") is None for item in items):
        raise Invalid("some entries are not chained yet (seconds after posting): fetch the statement again later")
    proof = statement.get("proof")
    if not proof:
        raise Invalid("no checkpoint covers this statement's last entry yet (one is made at least hourly)")
    checkpoint = proof["checkpoint"]
    if saved is not None and (saved.get("checkpoint_id"), saved.get("root")) != (checkpoint["checkpoint_id"],
                                                                               checkpoint["root"]):
        wanted = saved.get("checkpoint_id")
        raise Invalid(f"the proof is against checkpoint {checkpoint['checkpoint_id']}, not the saved {wanted} "
                      f"(ask for the statement with ?checkpoint={wanted})")
    check_signature(checkpoint, keys)
    chains: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        chains.setdefault(item["chain"], []).append(item)
    proven = {c["chain"]: c for c in proof["chains"]}
    for chain, links in sorted(chains.items()):
        links.sort(key=lambda x: x["seq"])
        last = _follow(links, None, wallet_id, currency, f"chain {chain}")
        if chain not in proven:
            raise Invalid(f"the proof does not cover chain {chain}")
        p = proven[chain]
        if p["tail"]:
            last = _follow(p["tail"], last, wallet_id, currency, f"chain {chain} after the statement")
        if last != (p["head"]["seq"], p["head"]["hash"]):
            raise Invalid(f"chain {chain} does not lead to its head at checkpoint {checkpoint['checkpoint_id']}")
        if merkle_root(chain, p["head"], p["path"]) != checkpoint["root"]:
            raise Invalid(f"chain {chain}'s head is not under the checkpoint's root (its Merkle path fails)")
    return (f"OK: {len(items)} entries of {wallet_id} ({statement['period']['from']} to {statement['period']['to']}) "
            f"chained and committed to by checkpoint {checkpoint['checkpoint_id']} ({checkpoint['at']})")
