"""Faults at the boto3 client, for the simulator's DynamoDB Local mode (docs/simulation.md).

The in-memory world raises a fault in a proxy between a service and its port. Over DynamoDB
Local a DynamoDB fault is injected where production meets it: in botocore, under the adapters,
through botocore's own event hooks. So the adapters' retry loops, PynamoDB's error wrapping and
botocore's own retries all run as they would in AWS:

- `before-call.dynamodb.*` runs before botocore sends anything, after its retries would have
  been spent: an error answered there reaches the adapter as it is;
- `before-send.dynamodb.*` runs before each HTTP attempt: a failed attempt there is retried by
  botocore itself (standard mode), the way a dropped connection is;
- `after-call.dynamodb.*` runs once DynamoDB Local has answered (and committed): raising there
  loses an answer whose effect happened.

The same `Plan`s as everywhere else drive them (port "dynamodb"), counted per client call. What
a kind becomes at the client depends on the `Weather`, which the DynamoDB machine lets
Hypothesis draw like any other step:

| Kind | `Weather` | What the adapter sees |
|---|---|---|
| unavailable | conflict | a transaction: TransactionCanceledException [TransactionConflict]; a single-item |
| | | write: TransactionConflictException; a read: ThrottlingException |
| unavailable | throttled | ThrottlingException |
| unavailable | timeout | ConnectTimeoutError (never sent; botocore gave up) |
| unavailable | resent | one attempt fails to connect; botocore sends it again |
| lost_answer | timeout | ReadTimeoutError after DynamoDB committed |
| lost_answer | server_error | InternalServerError after DynamoDB committed |
| lost_answer | resent | DynamoDB committed, the answer was lost, botocore sent it AGAIN |
| crash_before / crash_after | - | `Crash` before the request / after the commit |
| interleave | - | another process's whole operation runs just before this request |
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError
from botocore.httpsession import URLLib3Session

from tests.simulation.faults import Crash, Injector, Plan

DYNAMODB = "dynamodb"
BEFORE = ("conflict", "throttled", "timeout", "resent")  # what `unavailable` becomes
AFTER = ("timeout", "server_error", "resent")  # what `lost_answer` becomes
# Tables are made and described outside any operation: only the data plane is faulted and counted.
CONTROL_PLANE = frozenset({"CreateTable", "DeleteTable", "DescribeTable", "ListTables", "UpdateTable",
                           "UpdateTimeToLive", "DescribeTimeToLive"})
_TRANSACTIONS = frozenset({"TransactWriteItems", "TransactGetItems"})
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})
_AFTER_KEY = "simulation_fault"  # botocore's per-call context carries a fault from before- to after-call


@dataclass(frozen=True)
class Weather:
    """How DynamoDB fails, for the faults planned from now on."""

    before: str = "conflict"
    after: str = "timeout"


def _refusal(operation: str, how: str, params: dict[str, Any]) -> tuple[str, list[dict[str, str]]]:
    """The error code DynamoDB answers a refused call with, and a transaction's per-item reasons."""
    if how == "throttled":
        return "ThrottlingException", []
    if operation in _TRANSACTIONS:
        try:
            items = len(json.loads(params.get("body") or b"{}").get("TransactItems", [])) or 1
        except (TypeError, ValueError):
            items = 1
        # DynamoDB names the item that met another transaction; the others pass ("None").
        return "TransactionCanceledException", [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * (items - 1)
    return ("TransactionConflictException" if operation in _WRITES else "ThrottlingException"), []


def _answer(code: str, reasons: list[dict[str, str]]) -> tuple[AWSResponse, dict[str, Any]]:
    """An error answer as botocore's `before-call` may return it instead of sending the request."""
    parsed: dict[str, Any] = {"Error": {"Code": code, "Message": f"simulated: {code}"},
                              "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}}}
    if reasons:
        parsed["CancellationReasons"] = reasons
    return AWSResponse("http://dynamodb.simulated", 400, {}, None), parsed


@dataclass
class ClientInjector(Injector):
    """The injector of the DynamoDB Local world: Stripe is faulted at its port (as in memory),
    DynamoDB at the client. Calls to the "dynamodb" ports pass straight through, so a plan is
    never injected twice; `self.calls` counts Stripe port calls and DynamoDB client calls alike,
    so a plan for any port ("") lands on the at-th call of either."""

    weather: Weather = field(default_factory=Weather)
    client_calls: Counter[str] = field(default_factory=Counter)  # DynamoDB calls by operation
    client_faults: Counter[str] = field(default_factory=Counter)  # kind:variant at the client
    _on_send: str = ""  # a fault for the next HTTP attempt (set in before-call, taken in before-send)

    def arm(self, plan: Plan | None, interleave: Callable[[], None] | None = None) -> None:
        super().arm(plan, interleave)
        self._on_send = ""

    def call(self, port: str, method: str, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        if port == DYNAMODB:  # counted and faulted at the client, call by call
            self.port_calls[port] += 1
            return fn(*args, **kwargs)
        return super().call(port, method, fn, args, kwargs)

    def _due(self) -> Plan | None:
        """The plan, if this DynamoDB call is the one it targets (one fault per operation)."""
        plan = self.plan
        if not self.enabled or plan is None or plan.port not in ("", DYNAMODB):
            return None
        index, self.calls = self.calls, self.calls + 1
        if index != plan.at:
            return None
        self.plan = None
        self.injected[f"{plan.kind}:{DYNAMODB}"] += 1
        return plan

    # -- botocore's hooks -----------------------------------------------------------------------
    def before_call(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> Any:
        operation = model.name
        if operation in CONTROL_PLANE:
            return None
        self.client_calls[operation] += 1
        plan = self._due()
        if plan is None:
            return None
        variant = {"unavailable": self.weather.before, "lost_answer": self.weather.after}.get(plan.kind, "")
        self.client_faults[f"{plan.kind}:{variant}" if variant else plan.kind] += 1
        if plan.kind == "crash_before":
            raise Crash(f"dynamodb.{operation}")
        if plan.kind == "interleave":
            self._interleave()
        elif plan.kind == "unavailable":
            return self._refuse(operation, params)
        elif variant == "resent":  # lost_answer, on the wire: botocore sends it again
            self._on_send = "answer_lost"
        else:  # lost_answer or crash_after: once DynamoDB has answered
            context[_AFTER_KEY] = variant or plan.kind
        return None

    def _refuse(self, operation: str, params: dict[str, Any]) -> Any:
        how = self.weather.before
        if how == "timeout":
            raise ConnectTimeoutError(endpoint_url="dynamodb")
        if how == "resent":
            self._on_send = "unreachable"
            return None
        return _answer(*_refusal(operation, how, params))

    def _interleave(self) -> None:
        if self.interleave is None:
            return
        self.enabled = False
        try:
            self.interleave()
        finally:
            self.enabled = True

    def before_send(self, request: Any, **_: Any) -> None:
        mode, self._on_send = self._on_send, ""
        if mode == "unreachable":
            raise ConnectTimeoutError(endpoint_url=request.url)
        if mode == "answer_lost":
            _http().send(request)  # DynamoDB Local gets it and commits; its answer never arrives
            raise ReadTimeoutError(endpoint_url=request.url)

    def after_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        fault = context.pop(_AFTER_KEY, None)
        if fault is None:
            return
        if fault == "crash_after":
            raise Crash(f"dynamodb.{model.name}")
        if fault == "server_error":
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "simulated: answer lost"}},
                              model.name)
        raise ReadTimeoutError(endpoint_url="dynamodb")


_session: list[URLLib3Session] = []


def _http() -> URLLib3Session:
    """A plain HTTP session of botocore's own, to deliver a request whose answer is then lost."""
    if not _session:
        _session.append(URLLib3Session())
    return _session[0]


@dataclass
class ClientHooks:
    """botocore handlers that fault whichever world is running (`injector`); none when unset.

    Registered once per client or session (botocore copies a session's handlers into each client
    it makes), so they must look up the current world's injector at each call."""

    injector: ClientInjector | None = None

    def before_call(self, **kwargs: Any) -> Any:
        return self.injector.before_call(**kwargs) if self.injector else None

    def before_send(self, **kwargs: Any) -> None:
        if self.injector:
            self.injector.before_send(**kwargs)

    def after_call(self, **kwargs: Any) -> None:
        if self.injector:
            self.injector.after_call(**kwargs)

    def attach(self, events: Any) -> None:
        """On a client's `meta.events`, or a botocore session (then every client it makes)."""
        events.register(f"before-call.{DYNAMODB}", self.before_call)
        events.register(f"before-send.{DYNAMODB}", self.before_send)
        events.register(f"after-call.{DYNAMODB}", self.after_call)

    @contextmanager
    def on_pynamodb(self) -> Iterator[None]:
        """Into every client PynamoDB makes from now on. PynamoDB builds its botocore clients
        itself, one per `Connection` (a model's cached one, or the one `transact` opens per
        transaction), each from a new session of `botocore.session.get_session`, the name its
        connection module calls: the sessions it gets from there carry these handlers."""
        import pynamodb.connection.base as base

        original = base.get_session

        def session() -> Any:
            made = original()
            self.attach(made)
            return made

        base.get_session = session
        try:
            yield
        finally:
            base.get_session = original
