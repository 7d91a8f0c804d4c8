"""`python -m ops <command>`: the operators' tool. Every command prints one JSON document;
every change needs `--reason` and is written with its audit record. There is deliberately no
admin HTTP route: operators act with their own credentials (locally, the dev stack's).

Locally (the default `--stage local`) it reads the running dev stack's `.local/stack.env` and
dev-only keys; for a deployed stage it reads the stage's settings from `.chalice/config.json`
and the secrets from SSM with the caller's own AWS credentials.
"""
from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import logging
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from chalicelib.domain.errors import DomainError

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("ops")
CHANGES = {"freeze", "unfreeze", "resolve", "reverse", "spread"}  # commands that need --reason


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # a usage error is JSON too, like every answer
        raise UsageError(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m ops", description="Operate the e-wallet (docs/operations.md).")
    p.add_argument("--stage", default="local", help="local (the dev stack, default) or a deployed stage")
    p.add_argument("--stack-dir", default=str(ROOT / ".local"), help="the local stack's folder")
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

    audit = sub.add_parser("audit", help="the audit records since a time")
    audit.add_argument("--since", required=True, help="RFC 3339, e.g. 2026-11-21T00:00:00Z")
    return p


def settings_env(stage: str, stack_dir: Path) -> dict[str, str]:
    """The settings (and, locally, the dev-only secrets) the app's services are built from."""
    if stage == "local":
        from devstack.stack import read_stack_env

        if not (stack_dir / "stack.env").exists():
            raise UsageError(f"no local stack at {stack_dir}: start it with `make dev`")
        env = read_stack_env(stack_dir)
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
            os.environ[key] = env.get(key, "")  # the emulators' dev credentials, for boto3
        return {**env, "STAGE": "local"}
    from deploy.template import stage_env

    try:
        env = stage_env(stage)
    except KeyError:
        raise UsageError(f"no stage {stage!r} in .chalice/config.json") from None
    return {**env, **{k: v for k, v in os.environ.items() if k.startswith("AWS_")}}


def _since(text: str) -> str:
    from chalicelib.domain.ids import rfc3339

    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:  # no guessing the operator's time zone
        raise UsageError("--since must be an RFC 3339 time with its offset, e.g. 2026-11-21T00:00:00Z")
    return rfc3339(when.timestamp())


def operations(env: dict[str, str]) -> Any:
    """The app's services for this stage, acting as the caller's own identity."""
    from chalicelib.adapters.secrets import Secrets
    from chalicelib.config import Settings
    from chalicelib.container import Container

    settings = Settings.from_env(env)
    holder: dict[str, Container] = {}
    c = holder["c"] = Container(settings, secrets=Secrets(lambda: holder["c"].client("ssm"), env=env))
    actor = str(c.client("sts").get_caller_identity()["Arn"])
    if settings.stage == "local":  # every dev stack has one identity: say which person it was
        with contextlib.suppress(KeyError, OSError):  # a container with no entry for its user
            actor += f" ({getpass.getuser()})"
    return c.operations(actor)


def dispatch(ops: Any, args: argparse.Namespace, command: str, name: str) -> Any:
    if command == "show":
        user_id = ops.find_user(email=args.email, user_id=args.user_id)
        ops.record(name, user_id)
        return ops.show_user(user_id)
    if command in ("freeze", "unfreeze"):
        return ops.set_frozen(args.user_id, command == "freeze", args.reason)
    if command == "withdrawals":
        ops.record(name, args.status)
        return {"items": ops.withdrawals_in(args.status)}
    if command == "resolve":
        return ops.resolve_withdrawal(args.id, args.outcome, args.reason)
    if command == "reverse":
        return ops.reverse(args.transfer_id, args.reason, allow_negative=args.allow_negative)
    if command == "spread":
        return ops.spread_credits(args.wallet_id, args.shards, args.reason)
    if command == "reconcile":
        ops.record(name, "ledger")
        return ops.reconcile()
    since = _since(args.since)
    ops.record(name, since)
    return {"items": ops.audit(since)}


def run(args: argparse.Namespace, env: dict[str, str]) -> Any:
    ops = operations(env)
    command = args.command if args.command not in ("user", "withdrawal", "wallet") else args.action
    name = " ".join(x for x in (args.command, getattr(args, "action", None)) if x)
    try:
        return dispatch(ops, args, command, name)
    except DomainError as exc:
        if command in CHANGES and getattr(args, "reason", "").strip():
            target = getattr(args, "user_id", None) or getattr(args, "id", None) or getattr(
                args, "transfer_id", None) or getattr(args, "wallet_id", None) or ""
            try:
                ops.record(name, target, reason=args.reason, refused=exc.code)
            except Exception:  # noqa: BLE001 - the refusal is the answer; its record is best effort
                log.warning("the refusal could not be recorded")
        raise


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        result = run(args, settings_env(args.stage, Path(args.stack_dir)))
    except UsageError as exc:
        print(json.dumps({"error": {"code": "usage", "message": str(exc)}}))
        return 2
    except DomainError as exc:
        error: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.details:
            error["details"] = exc.details
        print(json.dumps({"error": error}))
        return 1
    except Exception as exc:  # credentials, permissions, an unreachable AWS: JSON too
        # Only the exception's type: its text may carry a request or an ARN, never shown.
        print(json.dumps({"error": {"code": "internal_error", "message": f"{type(exc).__name__}; see the logs"}}))
        log.debug("ops failed", exc_info=True)
        return 1
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
