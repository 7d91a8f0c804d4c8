"""`python -m ops <command>`: the operators' tool. Every command prints one JSON document;
every change needs `--reason` and is written with its audit record.

Each command is sent to the admin API (API Gateway with AWS_IAM authorization, its own Lambda
function), signed with the operator's own AWS credentials; that function runs it as the caller
AWS verified, whose ARN is the audit record's actor (docs/operations.md). The tool itself reads
no table and no secret.

Locally (the default `--stage local`) it talks to the running dev stack's admin API
(`ADMIN_URL` in `.local/stack.env`) with the local operator's keys (`.local/operator.env`); for a
deployed stage, to `--admin-url` (or `ADMIN_URL`: the stack's `AdminUrl` output) with the
caller's own AWS credentials (profile, SSO, environment: botocore's usual chain).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from chalicelib.domain.errors import DomainError
from chalicelib.domain.operator_commands import COMMANDS, parse_since

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("ops")


class UsageError(Exception):
    pass


class Refused(Exception):
    """The admin API refused the command: the error to print (exit status 1)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("code"))
        self.error = error


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # a usage error is JSON too, like every answer
        raise UsageError(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m ops", description="Operate the e-wallet (docs/operations.md).")
    p.add_argument("--stage", default="local", help="local (the dev stack, default) or a deployed stage")
    p.add_argument("--stack-dir", default=str(ROOT / ".local"), help="the local stack's folder")
    p.add_argument("--admin-url", default=os.environ.get("ADMIN_URL"),
                   help="a deployed stage's admin API (its stack's AdminUrl output; default $ADMIN_URL)")
    sub = p.add_subparsers(dest="command", required=True)

    user = sub.add_parser("user").add_subparsers(dest="action", required=True).add_parser(
        "show", help="a user (decrypted), wallets, holds, last transfers")
    who = user.add_mutually_exclusive_group(required=True)
    who.add_argument("--email")
    who.add_argument("--user-id")

    for name in ("freeze", "unfreeze"):
        c = sub.add_parser(name, help=f"{name} an account (a frozen one receives but sends nothing)")
        c.add_argument("--user-id", required=True)
        c.add_argument("--reason", required=True)

    listing = sub.add_parser("withdrawals", help="withdrawals in a status")
    listing.add_argument("--status", default="needs_attention",
                         choices=("needs_attention", "pending", "paid", "failed"))

    resolve = sub.add_parser("withdrawal").add_subparsers(dest="action", required=True).add_parser(
        "resolve", help="after checking Stripe: post (paid) or void (failed) the hold, once")
    resolve.add_argument("--id", required=True)
    resolve.add_argument("--outcome", required=True, choices=("paid", "failed"))
    resolve.add_argument("--reason", required=True)

    reverse = sub.add_parser("reverse", help="a compensating transfer from the recipient back to the sender")
    reverse.add_argument("--transfer-id", required=True)
    reverse.add_argument("--reason", required=True)
    reverse.add_argument("--allow-negative", action="store_true", help="only for a system account recipient")

    spread = sub.add_parser("wallet").add_subparsers(dest="action", required=True).add_parser(
        "spread", help="make a wallet high-volume: its credits land on N shards")
    spread.add_argument("--wallet-id", required=True)
    spread.add_argument("--shards", required=True, type=int)
    spread.add_argument("--reason", required=True)

    sub.add_parser("reconcile", help="the ledger's invariants and the last day's top-ups against Stripe")
    sub.add_parser("verify-ledger", help="recompute every entry chain and signed checkpoint (exit 1 if not intact)")

    audit = sub.add_parser("audit", help="the audit records since a time")
    audit.add_argument("--since", required=True, help="RFC 3339, e.g. 2026-11-21T00:00:00Z")
    return p


def command_of(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The admin API's command name and JSON body for the parsed flags."""
    name = args.command if args.command not in ("user", "withdrawal", "wallet") else f"{args.command}-{args.action}"
    body = {f.name: getattr(args, f.name) for f in COMMANDS[name].fields if getattr(args, f.name, None) is not None}
    if "since" in body:
        try:  # the operator's typo is a usage error here, before anything is sent
            body["since"] = parse_since(body["since"])
        except DomainError:
            raise UsageError("--since must be an RFC 3339 time with its offset, e.g. 2026-11-21T00:00:00Z") from None
    return name, body


def endpoint(args: argparse.Namespace) -> tuple[str, Any, str]:
    """(admin URL, credentials, region) to send to: the local stack's, or a deployed stage's."""
    from botocore.credentials import Credentials

    if args.stage == "local":
        from devstack.operators import ENV_FILE, read_operator_env
        from devstack.stack import read_stack_env

        stack_dir = Path(args.stack_dir)
        if not (stack_dir / "stack.env").exists() or not (stack_dir / ENV_FILE).exists():
            raise UsageError(f"no local stack at {stack_dir}: start it with `make dev`")
        env, keys = read_stack_env(stack_dir), read_operator_env(stack_dir)
        credentials = Credentials(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"])
        return env["ADMIN_URL"], credentials, env["AWS_REGION"]
    import botocore.session

    from ops.client import region_of

    if not args.admin_url:
        raise UsageError(f"no admin API for stage {args.stage!r}: pass --admin-url (the stack's AdminUrl output)")
    session = botocore.session.get_session()
    credentials = session.get_credentials()
    if credentials is None:
        raise UsageError("no AWS credentials: sign in (aws sso login, a profile, or the environment)")
    region = region_of(args.admin_url) or session.get_config_variable("region")
    if not region:
        raise UsageError("no AWS region: set AWS_REGION")
    return args.admin_url, credentials.get_frozen_credentials(), region


def run(args: argparse.Namespace) -> Any:
    from ops.client import call

    name, body = command_of(args)
    url, credentials, region = endpoint(args)
    status, answer = call(url, name, body, credentials, region)
    if 200 <= status < 300:
        return answer
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        raise Refused(answer["error"])
    # API Gateway's own refusal ({"message": ...}): not signed, not verified, not allowed.
    message = answer.get("message") if isinstance(answer, dict) else None
    raise Refused({"code": "forbidden" if status == 403 else "internal_error",
                   "message": str(message or f"the admin API answered {status}")})


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        result = run(args)
    except UsageError as exc:
        print(json.dumps({"error": {"code": "usage", "message": str(exc)}}))
        return 2
    except Refused as exc:
        print(json.dumps({"error": exc.error}))
        return 1
    except Exception as exc:  # credentials, an unreachable admin API: JSON too
        # Only the exception's type: its text may carry a request or an ARN, never shown.
        print(json.dumps({"error": {"code": "internal_error", "message": f"{type(exc).__name__}; see the logs"}}))
        log.debug("ops failed", exc_info=True)
        return 1
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    # verify-ledger: a ledger that is not intact is a failure a script must see.
    return 1 if isinstance(result, dict) and result.get("intact") is False else 0


if __name__ == "__main__":
    sys.exit(main())
