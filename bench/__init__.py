"""Benchmarks that print one line of figures each, against a baseline of the same run."""
from __future__ import annotations

import sys
from typing import TextIO

# Where the figure lines go; `python -m bench` points it at the terminal and everything else
# (the app's logs, the stack's output) at a log file.
REPORT: TextIO | None = None


def report(line: str) -> None:
    """Print one benchmark's line of figures."""
    print(line, file=REPORT or sys.stdout, flush=True)
