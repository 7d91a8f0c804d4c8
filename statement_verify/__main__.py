"""python -m statement_verify STATEMENT.json --keys LEDGER-KEYS.json [--checkpoint SAVED.json]"""
from __future__ import annotations

import argparse
import json
import sys

from statement_verify import Invalid, verify


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m statement_verify", description=__doc__)
    p.add_argument("statement", help="the statement as JSON (GET /wallets/{id}/statements/{YYYY-MM})")
    p.add_argument("--keys", required=True, help="the ledger's keys (GET /.well-known/ledger-keys.json)")
    p.add_argument("--checkpoint", help="a checkpoint saved earlier (GET /ledger/checkpoints/latest)")
    args = p.parse_args(argv)
    try:
        with open(args.statement, encoding="utf-8") as f:
            statement = json.load(f)
        with open(args.keys, encoding="utf-8") as f:
            keys = json.load(f)
        saved = None
        if args.checkpoint:
            with open(args.checkpoint, encoding="utf-8") as f:
                saved = json.load(f)
        print(verify(statement, keys, saved))
    except Invalid as exc:
        print(f"NOT VERIFIED: {exc}")
        return 1
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"NOT VERIFIED: unreadable input ({type(exc).__name__}: {exc})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
