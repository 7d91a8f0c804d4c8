"""The packaged template, built once for every deploy test that reads it."""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Runs the real packaging (Lambda wheels come from PyPI): the output folder and sam.json.

    Built once per run (about 45 s): under pytest-xdist (`make test`) the workers share it in
    the run's common temporary folder, the first one building it under a lock (tests only read
    it)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out, built = shared / "package", shared / "package.built"
    with open(shared / "package.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not built.exists():
            shutil.rmtree(out, ignore_errors=True)  # what a failed build left
            run = subprocess.run([sys.executable, "-m", "deploy.package", "--stage", "prod", "--out", str(out)],
                                 cwd=ROOT, capture_output=True, text=True, timeout=600)
            assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
            print(run.stdout.strip().splitlines()[-1])  # the package size line
            built.touch()
    return out, json.loads((out / "sam.json").read_text())
