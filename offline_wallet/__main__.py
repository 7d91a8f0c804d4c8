"""`python -m offline_wallet keygen | sign | verify`: the client library from a shell.

    keygen --out device.json                      a device key (private: keep it; public: register it)
    sign --key device.json --certificate CERT --payee USER --amount N [--chain chain.json]
                                                  prints a voucher; the chain file keeps seq/prev/cumulative
    verify --certificate CERT --voucher V --keys offline-keys.json --me USER [--seen seen.json]
                                                  prints the verdict; exit 0 accepted, 1 refused
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from offline_wallet import keys
from offline_wallet.payee import Seen, check
from offline_wallet.payer import CannotPay, Chain, sign_voucher


def _load(path: str | None, default: Any) -> Any:
    return json.loads(Path(path).read_text()) if path and Path(path).exists() else default


def _save(path: str, data: Any, private: bool = False) -> None:
    target = Path(path)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    if private:
        os.chmod(tmp, 0o600)
    tmp.replace(target)  # whole or not at all: a torn chain file could sign a seq twice


def keygen(args: argparse.Namespace) -> int:
    key = keys.new_device_key()
    _save(args.out, {"private_key": keys.private_to_text(key), "public_key": keys.public_text(key)}, private=True)
    print(json.dumps({"public_key": keys.public_text(key)}))
    return 0


def sign(args: argparse.Namespace) -> int:
    key = keys.private_from_text(_load(args.key, {})["private_key"])
    chains = _load(args.chain, {})
    chain = Chain(**chains[args.certificate]) if args.certificate in chains else Chain(args.certificate)
    try:
        voucher = sign_voucher(chain, key, args.payee, args.amount)
    except CannotPay as err:
        print(json.dumps({"error": str(err)}), file=sys.stderr)
        return 1
    if args.chain:
        chains[args.certificate] = chain.to_dict()
        _save(args.chain, chains, private=True)
    print(voucher)
    return 0


def verify(args: argparse.Namespace) -> int:
    seen = Seen.from_dict(_load(args.seen, {}))
    verdict = check(args.certificate, args.voucher, keys.offline_keys(_load(args.keys, {})), args.me, seen)
    if args.seen and verdict.accepted:
        _save(args.seen, seen.to_dict())
    print(json.dumps({"accepted": verdict.accepted, "code": verdict.code, "seq": verdict.seq,
                      "amount": verdict.amount}))
    return 0 if verdict.accepted else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline_wallet", description="Offline payments client.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("keygen", help="make a device key")
    p.add_argument("--out", required=True)
    p.set_defaults(run=keygen)
    p = sub.add_parser("sign", help="sign a voucher to a payee")
    p.add_argument("--key", required=True)
    p.add_argument("--certificate", required=True)
    p.add_argument("--payee", required=True)
    p.add_argument("--amount", type=int, required=True)
    p.add_argument("--chain", help="where the chain of each allowance is kept (keep it with the key)")
    p.set_defaults(run=sign)
    p = sub.add_parser("verify", help="check a voucher offline, as its payee")
    p.add_argument("--certificate", required=True)
    p.add_argument("--voucher", required=True)
    p.add_argument("--keys", required=True, help="the server's offline-keys.json, saved while online")
    p.add_argument("--me", required=True, help="your user id")
    p.add_argument("--seen", help="the vouchers you accepted before (keep it until the allowances close)")
    p.set_defaults(run=verify)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
