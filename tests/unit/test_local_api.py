"""The local API hands each request to a free worker, as API Gateway hands it to an idle Lambda
container: a client never waits behind a busy worker while another one idles."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4

APP = '''
import os, time
from chalice import Chalice

app = Chalice(app_name="dispatch")


@app.route("/slow")
def slow():
    time.sleep(0.5)  # busy: no other request may reach this worker meanwhile
    return {"pid": os.getpid()}


@app.route("/pid")
def pid():
    return {"pid": os.getpid()}
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    project = tmp_path_factory.mktemp("project")
    (project / "app.py").write_text(APP)
    (project / ".chalice").mkdir()
    (project / ".chalice" / "config.json").write_text(json.dumps(
        {"version": "2.0", "app_name": "dispatch", "stages": {"local": {"api_gateway_stage": "api"}}}))
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "devstack.local_api", "--port", str(port), "--workers",
                             str(WORKERS)], cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        said = b""  # each worker says so before it accepts (their lines may interleave: one pipe)
        deadline = time.time() + 30
        while said.count(b"serving on") < WORKERS:
            assert time.time() < deadline and proc.poll() is None, said
            said += os.read(proc.stdout.fileno(), 4096)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_concurrent_requests_each_get_a_worker_of_their_own(api: str) -> None:
    time.sleep(0.2)  # the last worker to print has reached accept()
    sessions = [requests.Session() for _ in range(WORKERS)]  # kept-alive clients, as bench/load's
    with ThreadPoolExecutor(WORKERS) as pool:
        answers = list(pool.map(lambda s: s.get(f"{api}/slow", timeout=10), sessions))
    assert [a.status_code for a in answers] == [200] * WORKERS
    assert len({a.json()["pid"] for a in answers}) == WORKERS  # none queued behind another


def test_a_connection_carries_one_request_so_no_client_is_tied_to_a_worker(api: str) -> None:
    answer = requests.get(f"{api}/pid", timeout=10)
    assert answer.headers["Connection"] == "close"
    assert answer.headers["Server-Timing"].startswith("app;dur=")


def test_connections_that_send_nothing_hold_no_worker(api: str) -> None:
    # A browser's speculative preconnects, one per worker: none of them may keep a request
    # waiting (the handler's own timeout is 10 s; these requests give up after 5).
    port = int(api.rsplit(":", 1)[1])
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(WORKERS)]
    try:
        time.sleep(0.2)
        with ThreadPoolExecutor(WORKERS) as pool:
            answers = list(pool.map(lambda _: requests.get(f"{api}/slow", timeout=5), range(WORKERS)))
        assert [a.status_code for a in answers] == [200] * WORKERS
        assert len({a.json()["pid"] for a in answers}) == WORKERS
    finally:
        for s in idle:
            s.close()


def test_a_worker_that_dies_is_replaced(api: str) -> None:
    def pids() -> set[int]:
        with ThreadPoolExecutor(WORKERS) as pool:
            return {a.json()["pid"] for a in pool.map(lambda _: requests.get(f"{api}/slow", timeout=10),
                                                        range(WORKERS))}

    time.sleep(0.2)
    before = pids()
    assert len(before) == WORKERS
    dead = min(before)
    os.kill(dead, 9)  # as a Lambda container that crashes
    time.sleep(0.3)  # until it is gone: a connection it took while dying would be lost with it
    deadline = time.time() + 10
    while True:
        after = pids()
        if len(after) == WORKERS and dead not in after:
            break
        assert time.time() < deadline, after
        time.sleep(0.2)
    assert len(after & before) == WORKERS - 1  # the others kept serving
