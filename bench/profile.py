"""Where POST /transfers spends its own time: cProfile over the Lambda handler on DynamoDB Local.

The same request bench/transfer.py times (a payment to a wallet id, through the handler with the
Chalice test client), N times after a warm-up, interleaved with the bare transact_write_items +
batch_get_item of bench/transfer.py (the handler's own two calls, replayed with fresh ids).
Times are the process's CPU time (`time.thread_time`): a round trip's wait for DynamoDB Local
costs none, and a busy machine (other processes taking the CPUs) does not land on whatever
function was running. Prints:
- per request, for the handler and for the bare calls: wall time, the socket's wait, CPU; per
  DynamoDB round trip its wall time, wait, the CPU botocore spends on it (building, signing,
  sending, parsing) and its bytes; the handler's CPU outside its round trips;
- the handler's CPU by package (exclusive: the lines add up to the total);
- the app's own functions (chalicelib/, app.py) by cumulative CPU, and request-time imports.

The first line is measured without the profiler; the tables with it (the factor it inflates the
CPU by is printed; code made of many small Python calls is inflated more than C).
`python -m bench.profile`; `--all-output` shows the app's log lines too.
"""
from __future__ import annotations

import contextlib
import cProfile
import json
import pstats
import socket
import statistics
import sys
import sysconfig
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import report
from bench.calls import dynamodb_calls
from bench.stack import local_stack, verified_person

ROOT = Path(__file__).resolve().parent.parent
N = 60
TOP = 15
cpu = time.thread_time  # the handler, botocore and the test client all run on the calling thread


@dataclass
class Call:
    """One botocore API call: its name, wall time, socket wait, CPU, bytes sent and received."""

    operation: str
    wall: float
    wait: float
    cpu: float
    sent: int
    received: int


@dataclass
class Wire:
    """Socket waits and bytes (sendall, and reads through socket.makefile, which is how
    http.client reads an answer) and every botocore API call, while installed."""

    wait: float = 0.0
    sent: int = 0
    received: int = 0
    calls: list[Call] = field(default_factory=list)

    @contextlib.contextmanager
    def installed(self) -> Iterator[Wire]:
        from botocore.client import BaseClient

        saved = socket.socket.sendall, socket.SocketIO.readinto, BaseClient._make_api_call
        sendall, readinto, api_call = saved

        def timed_sendall(sock: Any, data: Any, *args: Any) -> Any:
            started = time.perf_counter()
            try:
                return sendall(sock, data, *args)
            finally:
                self.wait += time.perf_counter() - started
                self.sent += len(data)

        def timed_readinto(sio: Any, b: Any) -> Any:
            started, n = time.perf_counter(), None
            try:
                n = readinto(sio, b)
                return n
            finally:
                self.wait += time.perf_counter() - started
                self.received += n or 0

        def timed_call(client: Any, operation: str, params: Any) -> Any:
            w, s, r, c, started = self.wait, self.sent, self.received, cpu(), time.perf_counter()
            try:
                return api_call(client, operation, params)
            finally:
                self.calls.append(Call(operation, time.perf_counter() - started, self.wait - w, cpu() - c,
                                       self.sent - s, self.received - r))

        socket.socket.sendall = timed_sendall  # type: ignore[method-assign]
        socket.SocketIO.readinto = timed_readinto  # type: ignore[method-assign,assignment]
        BaseClient._make_api_call = timed_call  # type: ignore[method-assign]
        try:
            yield self
        finally:
            socket.socket.sendall, socket.SocketIO.readinto, BaseClient._make_api_call = saved  # type: ignore[method-assign]


@dataclass
class Run:
    """One request (or one pair of bare calls), measured without the profiler."""

    wall: float
    wait: float
    cpu: float
    calls: list[Call]


def main() -> None:
    with local_stack() as env:
        _run(env)


def _run(env: dict[str, str]) -> None:
    from chalice.test import Client

    import app as chalice_app
    from bench.transfer import Replay
    from chalicelib.adapters.dynamodb.ledger import DynamoLedger
    from chalicelib.container import get_container
    from chalicelib.domain.ids import new_id
    from chalicelib.domain.money import Money

    c = get_container()
    assert c.tables_bound
    store = c.ledger_store
    assert isinstance(store, DynamoLedger)
    ddb = store._ddb

    wire = Wire()
    with Client(chalice_app.app) as client, wire.installed():
        _, a_tok, wa, _ = verified_person(c)
        _, _, wb, _ = verified_person(c)
        c.ledger.credit_from_system("stripe_clearing", wa, Money(10**8, "USD"), new_id("tp"))
        body = json.dumps({"from_wallet_id": wa, "to": {"wallet_id": wb}, "amount": 1, "currency": "USD"})

        def post() -> None:
            r = client.http.post("/transfers", headers={"Authorization": f"Bearer {a_tok}",
                                                         "Content-Type": "application/json",
                                                         "Idempotency-Key": uuid.uuid4().hex}, body=body)
            assert r.status_code == 201, r.body

        def request() -> int:
            post()
            return 201

        # The bare pair is the handler's own two calls, captured once and replayed with fresh ids.
        replay = Replay(ddb, request)

        def bare() -> None:
            write, read = replay.calls()
            ddb.transact_write_items(**write)
            ddb.batch_get_item(**read)

        for _ in range(3):  # warm: imports, keys, connections, DynamoDB Local's first requests
            post()
            bare()
        with dynamodb_calls(ddb) as names:
            post()

        runs: dict[str, list[Run]] = {"handler": [], "bare": []}
        for _ in range(N):  # interleaved, so that a busy moment weighs on both alike
            for label, fn in (("handler", post), ("bare", bare)):
                runs[label].append(_measure(wire, fn))

        wire.calls = []  # the profiled requests' calls are not the runs' above
        profiled = cProfile.Profile(cpu)
        started = cpu()
        for _ in range(N):
            profiled.runcall(post)
        cpu_profiled = (cpu() - started) / N

    report(_round_trips(runs, [str(n) for n in names]))
    stats = pstats.Stats(profiled)
    report(_by_package(stats, N, cpu_profiled / statistics.median(r.cpu for r in runs["handler"])))
    report(_app_functions(stats, N))
    report(_imports_at_request_time(stats, N))


def _measure(wire: Wire, fn: Callable[[], None]) -> Run:
    wire.calls = []
    w, c, t = wire.wait, cpu(), time.perf_counter()
    fn()
    return Run(time.perf_counter() - t, wire.wait - w, cpu() - c, wire.calls)


def _round_trips(runs: dict[str, list[Run]], names: list[str]) -> str:
    """Medians of each figure over the requests (so the parts need not add up exactly)."""
    med = statistics.median
    lines = []
    for label, series in runs.items():
        ops: dict[str, list[Call]] = defaultdict(list)
        for run in series:
            for call in run.calls:
                ops[call.operation].append(call)
        in_calls = med(sum(x.cpu for x in r.calls) for r in series)
        trips = "; ".join(
            f"{op} {_ms(med(x.wall for x in v))} ms (wait {_ms(med(x.wait for x in v))}, botocore CPU "
            f"{_ms(med(x.cpu for x in v))}, {med(x.sent for x in v):.0f} B out, {med(x.received for x in v):.0f} B in)"
            for op, v in ops.items())
        lines.append(f"{label}: {_ms(med(r.wall for r in series))} ms, of which wait {_ms(med(r.wait for r in series))}"
                     f", CPU {_ms(med(r.cpu for r in series))} (in its round trips {_ms(in_calls)}, outside them "
                     f"{_ms(med(r.cpu - sum(x.cpu for x in r.calls) for r in series))}): {trips}")
    h, b = (med(r.wall for r in runs[k]) for k in ("handler", "bare"))
    hc, bc = (med(r.cpu for r in runs[k]) for k in ("handler", "bare"))
    # bench/transfer.py's "the handler adds X ms of its own" is h - median(transact) - median(batch get),
    # timed apart: with skewed round trips a sum of medians is below the median of the sum.
    apart = sum(med(c.wall for r in runs["bare"] for c in r.calls if c.operation == op)
                for op in ("TransactWriteItems", "BatchGetItem"))
    lines.append(f"the handler's wall time beyond the bare pair's: {_ms(h - b)} ms; bench/transfer.py's formula "
                 f"(the bare calls' medians taken apart, {_ms(apart)} ms) would say {_ms(h - apart)} ms")
    return (f"profile: POST /transfers makes {len(names)} round trips ({', '.join(names)}); wall ratio handler/bare "
            f"{h / b:.2f}, CPU ratio {hc / bc:.2f}, the handler's CPU beyond the bare calls' {_ms(hc - bc)} ms "
            f"(medians, ms, n={len(runs['handler'])} each, interleaved, no profiler)\n  " + "\n  ".join(lines))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


# -- reading the profile --------------------------------------------------------------------------
_STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
_TEST_HARNESS = ("chalice/test.py", "chalice/local.py")
_HERE = Path(__file__).resolve()


def _package(filename: str) -> str:
    """A short name for where a function lives: the app's package, a library, the stdlib."""
    if filename == "~":
        return "~"
    if filename.startswith("<frozen importlib"):
        return "importlib (imports at request time)"
    if filename.startswith("<"):
        return "stdlib " + filename.strip("<>").removeprefix("frozen ")
    path = Path(filename).resolve()
    if path == _HERE:
        return "bench.profile's counters"
    parts = path.parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1:]
        if "/".join(rest).endswith(_TEST_HARNESS):
            return "chalice test client (not in Lambda)"
        return rest[0].removesuffix(".py")
    with contextlib.suppress(ValueError):
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "chalicelib":
            deep = rel.parts[1] == "adapters" and len(rel.parts) > 3
            return ".".join(rel.parts[:3 if deep else 2]).removesuffix(".py")
        return str(rel).removesuffix(".py")
    with contextlib.suppress(ValueError):
        return "stdlib " + path.relative_to(_STDLIB).parts[0].removesuffix(".py")
    return str(path)


def _c_owner(name: str) -> str | None:
    """The library a C function belongs to, when its name says (else its caller's package)."""
    for marker, owner in (("pydantic_core", "pydantic"), ("_json", "stdlib json"), ("_hashlib", "stdlib hashlib"),
                          ("_hmac", "stdlib hmac"), ("cryptography", "cryptography"), ("_socket", "stdlib socket"),
                          ("_ssl", "stdlib ssl"), ("select", "stdlib selectors")):
        if marker in name:
            return owner
    return None


def _by_package(stats: pstats.Stats, n: int, inflation: float) -> str:
    """Each package's exclusive CPU; a C function's time goes to the package that called it,
    unless the C function is itself a library's (pydantic_core, _json, _hashlib...)."""
    own: dict[str, float] = defaultdict(float)
    for (filename, _, name), (_, _, tt, _, callers) in stats.stats.items():  # type: ignore[attr-defined]
        pkg = _package(filename)
        if pkg != "~":
            own[pkg] += tt
        elif owner := _c_owner(name):
            own[owner] += tt
        else:
            for caller, edge in callers.items():
                own[_package(caller[0]) if caller[0] != "~" else "C builtins"] += edge[2]
    total = sum(own.values())
    lines = [f"profile: the handler's CPU by package (exclusive, profiled ms per request; total {_ms(total / n)}, "
             f"x{inflation:.1f} the CPU without the profiler)"]
    for pkg, t in sorted(own.items(), key=lambda kv: -kv[1])[:TOP + 5]:
        lines.append(f"  {_ms(t / n):>7} ms {t / total:6.1%}  {pkg}")
    return "\n".join(lines)


def _app_functions(stats: pstats.Stats, n: int) -> str:
    lines = [f"profile: the app's own functions by cumulative CPU (profiled ms and calls per request; top {TOP + 10})",
             f"  {'cum ms':>8} {'self ms':>8} {'calls':>6}  function"]
    rows = []
    for (filename, line, name), (_, nc, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        pkg = _package(filename)
        if pkg == "app" or pkg.startswith("chalicelib"):
            rows.append((ct, tt, nc, f"{pkg}:{line} {name}"))
    for ct, tt, nc, where in sorted(rows, reverse=True)[:TOP + 10]:
        lines.append(f"  {_ms(ct / n):>8} {_ms(tt / n):>8} {nc / n:6.1f}  {where}")
    return "\n".join(lines)


def _imports_at_request_time(stats: pstats.Stats, n: int) -> str:
    """`from package import name` inside a function runs importlib's Python code on every call."""
    rows = [(ct, nc, name) for (filename, _, name), (_, nc, _, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
            if filename.startswith("<frozen importlib") and name in ("_handle_fromlist", "_find_and_load")]
    found = ", ".join(f"{name} {nc / n:.1f} calls, {_ms(ct / n)} ms" for ct, nc, name in sorted(rows, reverse=True))
    return f"profile: imports at request time, per request: {found or 'none'}"


if __name__ == "__main__":
    if "--all-output" in sys.argv:
        main()
    else:  # the app's JSON log lines and the stack's output to a file, as `python -m bench` does
        from bench.__main__ import figures_only

        with figures_only(Path(".local/logs/bench-profile.log")):
            main()
