"""`python -m bench` (make bench): run every benchmark, one line of figures each.

The app under test logs every request (JSON lines) and the local stack prints as it goes: all of
that goes to .local/logs/bench.log, so the terminal shows only the figures.
"""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import bench
from bench import capacity, chain, cold_start, forgot, load, openapi_fuzz, package_cold_start, session_check, transfer


@contextlib.contextmanager
def figures_only(log_path: Path) -> Iterator[None]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    terminal = os.fdopen(os.dup(1), "w", buffering=1)
    saved = os.dup(1), os.dup(2)
    with open(log_path, "w") as log:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        bench.REPORT = terminal
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            bench.REPORT = None
            terminal.close()


if __name__ == "__main__":
    log = Path(".local/logs/bench.log")
    with figures_only(log):
        cold_start.main()
        transfer.main()
        capacity.main()
        chain.main()
        session_check.main()
        forgot.main()
        package_cold_start.main()
        load.main()
        openapi_fuzz.main()
