"""The simulator's second mode: the same machine over DynamoDB Local (tests/simulation/dynamo_world.py),
with DynamoDB's faults at the boto3 client and notifications from the tables' real streams.

Part of `make test` (once, on the session's local stack) and of `make simulate DDB=1`; `make
simulate` alone runs only the in-memory profile. SIM_DDB_RUNS / SIM_DDB_STEPS override the
profile; a failing run prints the `@reproduce_failure` line that replays it (docs/simulation.md)."""
from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no metric lines in the output

import time
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import rule

from tests.simulation.client_faults import AFTER, BEFORE, ClientInjector, Weather
from tests.simulation.dynamo_notifications import DELIVERIES, check_notifications
from tests.simulation.dynamo_world import DynamoLocal, DynamoWorld
from tests.simulation.faults import Crash, Plan
from tests.simulation.machine import FAULT, WalletSimulation, totals
from tests.simulation.world import World

SEED = os.environ.get("SIM_SEED")  # set by `make simulate SEED=N` (with --hypothesis-seed=N)
RUNS = int(os.environ.get("SIM_DDB_RUNS") or 8)
STEPS = int(os.environ.get("SIM_DDB_STEPS") or 30)

# A failing run shrinks over DynamoDB Local, a few seconds per replay: more than the suite's
# usual five minutes.
pytestmark = pytest.mark.timeout(1800)

LOCAL: list[DynamoLocal] = []  # the session's tables, for make_world (a state machine takes no fixtures)
figures: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def dynamodb_local(stack: dict[str, str], stack_settings) -> Iterator[None]:
    # The emulators accept any credentials; these are the stack's dev-only dummies.
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        os.environ[key] = stack[key]
    before, started = Counter(totals), time.monotonic()
    with DynamoLocal.started(stack_settings) as local:
        LOCAL.append(local)
        try:
            yield
        finally:
            LOCAL.clear()
            figures.update(local.pump.figures)
    figures.update(totals - before)
    print(f"\nsimulation over DynamoDB Local ({time.monotonic() - started:.0f} s):", dict(sorted(figures.items())))


class DynamoSimulation(WalletSimulation):
    """The machine's rules and invariants, unchanged, over DynamoDB Local; plus how DynamoDB
    fails (drawn like any step) and the notifications pump, checked at quiescence."""

    def make_world(self, platform: bool, lowers: bool) -> World:
        assert LOCAL, "the DynamoDB Local mode runs under its module's fixture"
        return DynamoWorld(platform_payouts=platform, failed_refund_lowers_total=lowers, local=LOCAL[0])

    @property
    def dynamo(self) -> DynamoWorld:
        assert isinstance(self.world, DynamoWorld)
        return self.world

    @property
    def client_injector(self) -> ClientInjector:
        assert isinstance(self.world.injector, ClientInjector)
        return self.world.injector

    @rule(before=st.sampled_from(BEFORE), after=st.sampled_from(AFTER))
    def dynamodb_weather(self, before: str, after: str) -> None:
        """From now on DynamoDB fails this way (client_faults.py: what each kind becomes)."""
        self.client_injector.weather = Weather(before, after)

    @rule(delivery=st.sampled_from(DELIVERIES), fault=FAULT)
    def stream_delivers(self, delivery: str, fault: Plan | None) -> None:
        """The notifications Lambda reads the streams: a batch once, twice, reversed, or failed
        half-way, with any DynamoDB fault in its own reads and writes."""
        inj = self.world.injector
        inj.arm(fault)
        try:
            self.dynamo.ddb.pump.poll(delivery)
        except Crash:
            pass  # the next invocation starts after the last checkpoint
        finally:
            inj.arm(None)

    def teardown(self) -> None:
        if self.w is None:
            return
        super().teardown()  # quiescence and the machine's final checks
        inj = self.client_injector
        figures.update({f"client:{k}": v for k, v in inj.client_faults.items()})
        figures.update({f"calls:{k}": v for k, v in inj.client_calls.items()})
        figures["notifications checked"] += check_notifications(self.dynamo, self.dynamo.ddb.pump)
        # Every posted entry chained once, in order, whatever the stream did; and a checkpoint
        # made now signs every head (docs/statements.md).
        statements = self.dynamo.statements()
        statements.make_checkpoint()
        report = statements.verify_ledger()
        assert report["intact"], report["first"]
        figures["entries chained"] += report["entries"]


TestDynamoSimulation = DynamoSimulation.TestCase
TestDynamoSimulation.settings = settings(
    max_examples=RUNS, derandomize=not SEED, stateful_step_count=STEPS, deadline=None, database=None,
    print_blob=True, phases=[p for p in Phase if p is not Phase.shrink or os.environ.get("SIM_SHRINK") != "0"],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
