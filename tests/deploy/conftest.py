"""The packaged template, built once for every deploy test that reads it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Runs the real packaging (Lambda wheels come from PyPI): the output folder and sam.json."""
    out = tmp_path_factory.mktemp("package")
    run = subprocess.run([sys.executable, "-m", "deploy.package", "--stage", "prod", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    print(run.stdout.strip().splitlines()[-1])  # the package size line
    return out, json.loads((out / "sam.json").read_text())
