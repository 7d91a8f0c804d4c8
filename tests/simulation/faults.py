"""Faults on every port: each operation of the simulator may get one, at one port call.

The kinds, and what they stand for in production:
- `unavailable`: the call fails before its effect (DynamoDB throttling or a TransactionConflict
  that outlasted the adapter's retries, a Stripe 5xx or timeout before Stripe acted);
- `lost_answer`: the effect happened (DynamoDB committed, Stripe acted), the answer was lost;
- `crash_before` / `crash_after`: the Lambda died just before / just after the call;
- `interleave`: another process runs a whole operation between two steps of this one (the
  races: a freeze, a retry of the same key, a scheduled job, an event).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.errors import ServiceUnavailable

KINDS = ("unavailable", "lost_answer", "crash_before", "crash_after", "interleave")


class Crash(BaseException):
    """The process died here. A BaseException, so that no `except Exception` in the code
    under test can swallow it: nothing after a crash runs."""


@dataclass(frozen=True)
class Plan:
    at: int  # which port call of the operation, counting from 0
    kind: str
    port: str = ""  # only calls to this port count ("" = any)


@dataclass
class Injector:
    plan: Plan | None = None
    calls: int = 0
    enabled: bool = True
    interleave: Callable[[], None] | None = None
    injected: Counter[str] = field(default_factory=Counter)
    port_calls: Counter[str] = field(default_factory=Counter)

    def arm(self, plan: Plan | None, interleave: Callable[[], None] | None = None) -> None:
        self.plan, self.calls, self.interleave = plan, 0, interleave

    def call(self, port: str, method: str, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        self.port_calls[port] += 1
        plan = self.plan
        if not self.enabled or plan is None or (plan.port and plan.port != port):
            return fn(*args, **kwargs)
        index, self.calls = self.calls, self.calls + 1
        if index != plan.at:
            return fn(*args, **kwargs)
        self.plan = None  # one fault per operation
        self.injected[f"{plan.kind}:{port}"] += 1
        if plan.kind == "unavailable":
            raise ServiceUnavailable(f"simulated: {port}.{method} unavailable")
        if plan.kind == "crash_before":
            raise Crash(f"{port}.{method}")
        if plan.kind == "interleave" and self.interleave is not None:
            self.enabled = False
            try:
                self.interleave()
            finally:
                self.enabled = True
        result = fn(*args, **kwargs)
        if plan.kind == "lost_answer":
            raise ServiceUnavailable(f"simulated: {port}.{method} answer lost")
        if plan.kind == "crash_after":
            raise Crash(f"{port}.{method}")
        return result


class Faulty:
    """A port with the injector between its caller and it: every public method call counts."""

    def __init__(self, target: Any, port: str, injector: Injector) -> None:
        self._target, self._port, self._injector = target, port, injector

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name.startswith("_") or not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._injector.call(self._port, name, value, args, kwargs)
        return call
