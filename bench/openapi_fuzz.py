"""The OpenAPI document against the running stack: schemathesis with every check, positive data
acceptance included (no schema-valid request refused), a fixed seed.

Runs the e2e fuzz test (`tests/e2e/test_openapi_fuzz.py`, one subtest per operation, on a stack
of its own) and prints how many operations it fuzzed and how many had a finding: the goal is 0
(it was 18 "schema-valid request rejected" when issue 31 was filed).
"""
from __future__ import annotations

import re
import subprocess
import sys

from bench import report
from bench.cold_start import ROOT

TEST = "tests/e2e/test_openapi_fuzz.py"


def main() -> None:
    out = subprocess.run([sys.executable, "-m", "pytest", TEST, "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
                         cwd=ROOT, capture_output=True, text=True)
    summary = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-300:]
    print(out.stdout, out.stderr, sep="\n")  # to the bench log
    counts = {what: int(n) for n, what in re.findall(r"(\d+) (subtests passed|subtests failed|failed|errors?)",
                                                     summary)}
    # One subtest per operation; a failing one may be counted as "failed" (with its parent
    # test) rather than "subtests failed", depending on the pytest version: both are findings.
    failed = counts.get("subtests failed", 0) + counts.get("failed", 0) + counts.get("error", 0) + counts.get(
        "errors", 0)
    passed = counts.get("subtests passed", 0)
    met = out.returncode == 0 and failed == 0 and passed > 0
    report(f"openapi_fuzz: schemathesis, every check (positive data acceptance included), fixed seed: "
           f"{passed} operations passed, {failed} failed items (goal 0 findings {'met' if met else 'NOT met'}; "
           f"pytest: {summary})")


if __name__ == "__main__":
    main()
