"""Cold start of the packaged API Lambda: the zip as `make package` builds it (precompiled
bytecode, botocore's models pruned to the services we call) vs the same zip without .pyc (what
`chalice package` alone ships), and vs the same zip with every botocore model put back (what it
was before the pruning: the same pinned botocore, from this environment).

Each run is a fresh interpreter importing the handler from the unpacked zip and answering one
API Gateway event for GET /health, with bytecode writing disabled as on Lambda's read-only
/var/task. Prints the medians and their ratio.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bench import report

ROOT = Path(__file__).resolve().parent.parent
RUNS = 7
INVOKE = """
import json, time
t = time.perf_counter()
import app
event = {"resource": "/health", "path": "/health", "httpMethod": "GET", "headers": {}, "multiValueHeaders": {},
         "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
         "stageVariables": None, "body": None,
         "isBase64Encoded": False, "requestContext": {"resourcePath": "/health", "httpMethod": "GET",
         "requestId": "bench", "path": "/api/health", "stage": "api", "identity": {"sourceIp": "127.0.0.1"}}}
response = app.app(event, None)
assert response["statusCode"] == 200, response
print(json.dumps(time.perf_counter() - t))
"""


def _run(folder: Path) -> float:
    # -I -S: nothing but the stdlib and the unpacked zip; -B: no .pyc written, as /var/task is read-only.
    env = {"PATH": os.environ["PATH"], "STAGE": "prod", "AWS_DEFAULT_REGION": "us-east-1"}
    code = f"import sys; sys.path.insert(0, {str(folder)!r})\n" + INVOKE
    out = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", code], cwd=folder, env=env, capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    zip_path = ROOT / "build" / "package" / "deployment.zip"
    if not zip_path.exists():
        subprocess.run([sys.executable, "-m", "deploy.package", "--out", str(zip_path.parent)], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        compiled, source, full = Path(tmp) / "compiled", Path(tmp) / "source", Path(tmp) / "full"
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(compiled)
        shutil.copytree(compiled, source)
        for pyc in source.rglob("*.pyc"):
            pyc.unlink()
        import botocore

        shutil.copytree(compiled, full)
        shutil.rmtree(full / "botocore" / "data")
        shutil.copytree(Path(botocore.__file__).parent / "data", full / "botocore" / "data")
        for tree in (compiled, source, full):
            _run(tree)  # warm the OS file cache for every tree
        times: dict[str, list[float]] = {tree.name: [] for tree in (compiled, source, full)}
        for _ in range(RUNS):  # interleaved, so a noisy moment hits all three alike
            for tree in (compiled, source, full):
                times[tree.name].append(_run(tree))
        with_pyc, without, unpruned = (statistics.median(times[n]) for n in ("compiled", "source", "full"))
    report(f"package_cold_start: import + first GET /health from the zip {with_pyc * 1000:.0f} ms precompiled vs "
           f"{without * 1000:.0f} ms without .pyc, ratio {with_pyc / without:.2f}; vs {unpruned * 1000:.0f} ms with "
           f"every botocore model, ratio {with_pyc / unpruned:.2f} (median of {RUNS})")


if __name__ == "__main__":
    main()
