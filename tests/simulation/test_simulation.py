"""`make simulate`: the simulator's fast profile (part of `make test`); `make simulate LONG=1`
runs the long one. SIM_RUNS / SIM_STEPS override the profile; a failing run prints the
`@reproduce_failure` line (and the seed) that replays it."""
from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no metric lines in the output

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.simulation.machine import WalletSimulation, totals

LONG = os.environ.get("SIM_LONG") == "1"
SEED = os.environ.get("SIM_SEED")  # set by `make simulate SEED=N` (with --hypothesis-seed=N)
# Full runs (of at least 50 steps) the profile must make. Hypothesis also tries short runs on
# purpose (it explores stopping early, and stops a run whose choices fill its buffer), about a
# quarter of them: the profile asks for half again as many runs as it needs full ones.
FULL = int(os.environ.get("SIM_RUNS") or (20_000 if LONG else 200))
STEPS = int(os.environ.get("SIM_STEPS") or 60)

SETTINGS = settings(
    max_examples=FULL * 3 // 2,
    # The fast profile is the same runs for the same commit (CI); the long one explores new
    # seeds each time and prints the seed of a failure.
    derandomize=not LONG and not SEED, stateful_step_count=STEPS, deadline=None, database=None, print_blob=True,
    phases=[p for p in Phase if p is not Phase.shrink or os.environ.get("SIM_SHRINK") != "0"],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def test_wallet_simulation() -> None:
    before, compared = totals["runs of 50+ steps"], totals["answers compared"]
    run_state_machine_as_test(WalletSimulation, settings=SETTINGS)
    full = totals["runs of 50+ steps"] - before
    assert full >= FULL or STEPS < 50, f"only {full} runs of {FULL} reached 50 steps"
    # Retries whose answer was compared with the first one's: the check ran, not only compiled.
    assert totals["answers compared"] > compared or STEPS < 50


def teardown_module() -> None:
    print("\nsimulation:", dict(sorted(totals.items())))
