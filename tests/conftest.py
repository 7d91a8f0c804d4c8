"""Shared fixtures.

Unit tests need nothing running. Integration and e2e tests share ONE local stack started by the
`stack` fixture on free ports of its own (so a `make dev` running beside them never clashes),
exactly as `make dev` starts it, and stopped after the session.
"""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.stack import Ports, command, read_stack_env

ROOT = Path(__file__).resolve().parent.parent

# Unit tests build the app in-process; dummy credentials keep boto3 from probing the (absent)
# instance metadata service if anything ever reached for AWS.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("STAGE", "test")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The running local stack's settings (the keys of `.local/stack.env`)."""
    state = tmp_path_factory.mktemp("stack")
    cmd = command(state, Ports.free())
    out = open(state / "launcher.log", "wb")  # noqa: SIM115
    # A short offline grace, so the release of an expired allowance is seen within a test.
    launch_env = {**os.environ, "OFFLINE_GRACE_SECONDS": "10"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=launch_env, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    env_file = state / "stack.env"
    deadline = time.time() + 120
    try:
        while not env_file.exists():
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("the local stack did not start:\n" +
                                   (state / "launcher.log").read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        # With the stack's dev-only keys, so tests can build the same services the API runs.
        env = read_stack_env(state)
        env["STACK_DIR"] = str(state)
        yield env
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        out.close()


@pytest.fixture(scope="session")
def stack_settings(stack: dict[str, str]):  # type: ignore[no-untyped-def]
    from chalicelib.config import Settings

    return Settings.from_env(stack)


@pytest.fixture
def stack_container(stack: dict[str, str], stack_settings):  # type: ignore[no-untyped-def]
    """The API's own services, built in the test process against the stack's DynamoDB Local.

    Tests fund wallets through `ledger.credit_from_system` this way: the product has no route
    that mints money.
    """
    from chalicelib.adapters.secrets import Secrets
    from chalicelib.container import Container

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        os.environ[key] = stack[key]
    c = Container(stack_settings, secrets=Secrets(lambda: None, env=stack))
    assert c.tables_bound
    return c
