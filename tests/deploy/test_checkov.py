"""The packaged template passes checkov: 0 failed checks, and every check skipped in the
template says why (`Metadata: {"checkov": {"skip": [{"id", "comment"}]}}`, deploy/template.py).

checkov runs from its own venv (.venv-checkov, `make test` creates it from
deploy/requirements-checkov.txt): it pins a boto3 the app's cannot share. Without that venv the
test is skipped on a workstation, and fails in CI (`CI` set), where a skip would hide a gap.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def _checkov() -> Path:
    if not CHECKOV.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHECKOV} is missing: `make .venv-checkov/.deps-installed` (or `make test`) installs it")
        pytest.skip(f"{CHECKOV} is missing: `make test` installs it from deploy/requirements-checkov.txt")
    return CHECKOV


def _reports(output: str) -> list[dict[str, Any]]:
    """checkov's JSON: one report, or a list of them when it ran more than one framework."""
    data = json.loads(output)
    return data if isinstance(data, list) else [data]


# The main stack, and the web distribution's web ACL (its own stack, in us-east-1).
@pytest.mark.parametrize("template", ["sam.json", "edge-firewall.json"])
def test_checkov_finds_no_failed_check(package, template):
    out, _ = package
    # --skip-download: no call to Prisma Cloud for its guidelines (no network needed, and quiet).
    run = subprocess.run([str(_checkov()), "-f", str(out / template), "--framework", "cloudformation",
                          "--skip-download", "--output", "json"],
                         capture_output=True, text=True, timeout=600, cwd=out)
    assert run.stdout.strip(), run.stderr[-3000:]
    reports = _reports(run.stdout)
    # A report without results (nothing checked) has no "results" key: the count of passed catches it.
    failed = [c for report in reports for c in report.get("results", {}).get("failed_checks", [])]
    assert not failed, "\n".join(f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in failed)
    assert sum(report["summary"]["passed"] for report in reports) > 0, run.stdout[-3000:]
    skipped = [c for report in reports for c in report.get("results", {}).get("skipped_checks", [])]
    assert all(c["check_result"].get("suppress_comment", "").strip() for c in skipped), skipped


def test_every_skip_in_the_template_says_why(package):
    _, t = package
    skips = [(name, skip) for name, res in t["Resources"].items()
             for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    assert skips  # the template does skip checks that do not apply (deploy/template.py, `_skips`)
    for name, skip in skips:
        assert skip.get("id", "").startswith("CKV"), (name, skip)
        assert str(skip.get("comment", "")).strip(), (name, skip)
