"""One operator command, run as the operator AWS verified: the admin function's use case.

`Operations` holds the use cases themselves (it was built with the verified actor); this is the
dispatch from a checked command (domain/operator_commands.py) to them, with the records that no
single use case writes: a read of a person's data or of the ledger is recorded before it is
answered, and a change that is refused is recorded as `refused` with its error code.
"""
from __future__ import annotations

import logging
from typing import Any

from chalicelib.domain.errors import DomainError
from chalicelib.domain.operator_commands import OperatorCommand
from chalicelib.services.operations import Operations

log = logging.getLogger(__name__)


def _run(ops: Operations, command: OperatorCommand) -> Any:
    a, label = command.args, command.label
    match command.name:
        case "user-show":
            user_id = ops.find_user(email=a["email"], user_id=a["user_id"])
            ops.record(label, user_id)  # before the answer: no read of a person goes unrecorded
            return ops.show_user(user_id)
        case "freeze" | "unfreeze":
            return ops.set_frozen(a["user_id"], command.name == "freeze", a["reason"])
        case "withdrawals":
            ops.record(label, a["status"])
            return {"items": ops.withdrawals_in(a["status"])}
        case "withdrawal-resolve":
            return ops.resolve_withdrawal(a["id"], a["outcome"], a["reason"])
        case "reverse":
            return ops.reverse(a["transfer_id"], a["reason"], allow_negative=a["allow_negative"])
        case "wallet-spread":
            return ops.spread_credits(a["wallet_id"], a["shards"], a["reason"])
        case "reconcile":
            ops.record(label, "ledger")
            return ops.reconcile()
        case "verify-ledger":  # reads every entry: recorded like the other reads of the ledger
            ops.record(label, "ledger")
            return ops.verify_ledger()
        case "audit":
            ops.record(label, a["since"])
            return {"items": ops.audit(a["since"])}
    raise AssertionError(f"no use case for {command.name}")  # parse() admits only COMMANDS


def execute(ops: Operations, command: OperatorCommand) -> Any:
    """The command's answer (what `python -m ops` prints); a refusal is raised as the domain
    error it is, after its record."""
    try:
        return _run(ops, command)
    except DomainError as exc:
        if command.changes and str(command.args.get("reason") or "").strip():
            try:
                ops.record(command.label, command.target, reason=command.args["reason"], refused=exc.code)
            except Exception:  # noqa: BLE001 - the refusal is the answer; its record is best effort
                log.warning("the refusal of %s could not be recorded", command.label)
        raise
