"""The web wallet's pure modules (amounts, error wording) under node's own test runner."""
from __future__ import annotations

import shutil
import subprocess

from tests.conftest import ROOT


def test_web_modules_pass_their_node_tests() -> None:
    node = shutil.which("node")
    assert node, "node is needed (it also builds the web wallet)"
    run = subprocess.run([node, "--test", "web/tests"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout
