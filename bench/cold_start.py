"""Cold start: importing the API handler (`app.py`) vs `import boto3`, in fresh interpreters.

A Lambda cold start imports the handler module; this compares that with the cost of boto3 alone
(which every Python Lambda touching AWS pays), median of N fresh processes each. The project's
modules are compiled to bytecode first, as the Lambda package ships them (deploy/package.py):
with PYTHONDONTWRITEBYTECODE set (it is, on some machines), every run would otherwise compile
every module again, and the figure would be the compiler's.
"""
from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench import report

ROOT = Path(__file__).resolve().parent.parent
RUNS = 11


# The interpreters measured: bytecode is read, never written (it was written once, before).
ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def _time_import(stmt: str) -> float:
    code = f"import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env=ENV)
    return float(out.stdout.strip().splitlines()[-1])


def _first_request() -> float:
    code = (
        "import time; t = time.perf_counter()\n"
        "import app\n"
        "from chalice.test import Client\n"
        "with Client(app.app) as c: r = c.http.get('/health')\n"
        "assert r.status_code == 200\n"
        "print(time.perf_counter() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env=ENV)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    compileall.compile_file(str(ROOT / "app.py"), quiet=1)
    compileall.compile_dir(str(ROOT / "chalicelib"), quiet=1)
    _time_import("import app")  # warm the OS file cache so runs compare fairly
    _time_import("import boto3")
    # Alternated, so that whatever else the machine does weighs on both series alike (one
    # series after the other once differed by 0.1 in the ratio from run to run).
    apps, botos = [], []
    for _ in range(RUNS):
        apps.append(_time_import("import app"))
        botos.append(_time_import("import boto3"))
    app, boto = statistics.median(apps), statistics.median(botos)
    first = statistics.median(_first_request() for _ in range(RUNS))
    goal = "met" if app / boto <= 1.2 else "NOT met"
    report(f"cold_start: import app {app * 1000:.0f} ms, import boto3 {boto * 1000:.0f} ms, "
           f"ratio app/boto3 {app / boto:.2f} (goal <= 1.2 {goal}); import+first GET /health {first * 1000:.0f} ms "
           f"(median of {RUNS} fresh interpreters each, alternated, from bytecode)")


if __name__ == "__main__":
    main()
