"""The operators' commands as the admin API takes them (docs/operations.md): each one's name, its
fields and which of them change something. One table, read by both ends: `python -m ops` turns
its flags into a command's JSON body, the admin function checks that body against the same
table before any use case runs.

The operator's identity is deliberately not a field of any command: who asks is what AWS
verified about the request (the caller's IAM ARN), never something the request says.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import InvalidRequest
from chalicelib.domain.ids import rfc3339

WITHDRAWAL_STATUSES = ("needs_attention", "pending", "paid", "failed")
MAX_TEXT = 1000  # an id or a reason is short; a longer one is a mistake, not a command


@dataclass(frozen=True)
class Field:
    name: str  # the JSON body's key; the flag is --<name with dashes>
    kind: type = str  # str, int or bool
    required: bool = False
    choices: tuple[str, ...] = ()
    default: Any = None


@dataclass(frozen=True)
class Spec:
    fields: tuple[Field, ...]
    changes: bool = False  # a change needs a reason, and a refused one is recorded as refused
    one_of: tuple[str, ...] = ()  # exactly one of these fields is given


REASON = Field("reason", required=True)
COMMANDS: dict[str, Spec] = {
    "user-show": Spec((Field("email"), Field("user_id")), one_of=("email", "user_id")),
    "freeze": Spec((Field("user_id", required=True), REASON), changes=True),
    "unfreeze": Spec((Field("user_id", required=True), REASON), changes=True),
    "withdrawals": Spec((Field("status", choices=WITHDRAWAL_STATUSES, default="needs_attention"),)),
    "withdrawal-resolve": Spec((Field("id", required=True), Field("outcome", required=True, choices=("paid", "failed")),
                                REASON), changes=True),
    "reverse": Spec((Field("transfer_id", required=True), REASON, Field("allow_negative", bool, default=False)),
                    changes=True),
    "wallet-spread": Spec((Field("wallet_id", required=True), Field("shards", int, required=True), REASON),
                          changes=True),
    "reconcile": Spec(()),
    "verify-ledger": Spec(()),
    "audit": Spec((Field("since", required=True),)),
}


@dataclass(frozen=True)
class OperatorCommand:
    name: str  # a key of COMMANDS
    args: dict[str, Any]

    @property
    def label(self) -> str:
        """How the audit log names it: "withdrawal resolve", as the operator typed it."""
        return self.name.replace("-", " ")

    @property
    def changes(self) -> bool:
        return COMMANDS[self.name].changes

    @property
    def target(self) -> str:
        """What a refused change was aimed at, for its audit record."""
        for key in ("user_id", "id", "transfer_id", "wallet_id"):
            if self.args.get(key):
                return str(self.args[key])
        return ""


def parse_since(text: str) -> str:
    """An RFC 3339 time with its offset, normalised to the audit log's sort key format. No
    offset is refused rather than guessed: the operator's time zone is not the server's."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise InvalidRequest("since must be an RFC 3339 time with its offset, e.g. 2026-11-21T00:00:00Z",
                             details={"since": "not an RFC 3339 time with an offset"})
    return rfc3339(when.timestamp())


def _value(field: Field, raw: Any) -> Any:
    # bool is an int in Python: check it first, so `"shards": true` is not 1 shard.
    if field.kind is bool:
        if not isinstance(raw, bool):
            raise InvalidRequest(f"{field.name} must be true or false.", details={field.name: "not a boolean"})
        return raw
    if field.kind is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise InvalidRequest(f"{field.name} must be an integer.", details={field.name: "not an integer"})
        return raw
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_TEXT:
        raise InvalidRequest(f"{field.name} must be a non-empty string.", details={field.name: "not a string"})
    if field.choices and raw not in field.choices:
        raise InvalidRequest(f"{field.name} must be one of {', '.join(field.choices)}.",
                             details={field.name: "not one of the choices"})
    return raw


def parse(name: str, body: Any) -> OperatorCommand:
    """The command `name` with the arguments of a JSON body, checked against its spec. Keys the
    spec does not name are ignored: none of them can change what the command does or who it is
    recorded as (an `actor` in the body is just such a key)."""
    spec = COMMANDS.get(name)
    if spec is None:
        raise InvalidRequest(f"No command {name!r}.", details={"command": "unknown"})
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    args: dict[str, Any] = {}
    for field in spec.fields:
        raw = body.get(field.name)
        if raw is None:
            if field.required:
                raise InvalidRequest(f"{field.name} is required.", details={field.name: "required"})
            args[field.name] = field.default
        else:
            args[field.name] = _value(field, raw)
    if spec.one_of and sum(args.get(k) is not None for k in spec.one_of) != 1:
        raise InvalidRequest(f"Exactly one of {', '.join(spec.one_of)} is required.",
                             details={k: "exactly one" for k in spec.one_of})
    if "since" in args:
        args["since"] = parse_since(args["since"])
    return OperatorCommand(name, args)
