"""Start the local stack for a benchmark (free ports, temporary folder), like the tests do."""
from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devstack.stack import Ports, command, read_stack_env

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def local_stack(api_workers: int | None = None) -> Iterator[dict[str, str]]:
    """Yield the stack's settings, with its dev-only keys, and put them in os.environ.
    `api_workers`: the local API's worker processes (the stack's default, 3, if None)."""
    state = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    extra = ["--api-workers", str(api_workers)] if api_workers else []
    # The scheduled jobs at the deployed cadence (the most frequent is every 15 minutes), not the
    # dev stack's 15 s: their scans (reconcile, the checkpoint) would otherwise run several times
    # during each measurement, on the same 2 CPUs, which in AWS they never share (load p99 336 vs
    # 368 to 413 ms in one series). The pump still runs each once when it starts.
    env = {**os.environ, "SCHEDULE_SECONDS": os.environ.get("BENCH_SCHEDULE_SECONDS", "900")}
    proc = subprocess.Popen(command(state, Ports.free()) + extra, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    try:
        deadline = time.time() + 120
        while not (state / "stack.env").exists():
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"stack did not start; see {state}/logs")
            time.sleep(0.2)
        env = read_stack_env(state)
        os.environ.update(env)
        yield env
    finally:
        proc.terminate()
        proc.wait(20)
        # The next benchmark's stack has other ports and keys: settings and container afresh.
        from chalicelib.config import get_settings
        from chalicelib.container import set_container

        get_settings.cache_clear()
        set_container(None)


PASSWORD = "correct horse battery staple 42"


def verified_person(c: Any) -> tuple[str, str, str, str]:
    """A new user of the container `c` whose e-mail is verified (a payment address), signed in:
    (user id, access token, default wallet, e-mail)."""
    import uuid

    from chalicelib.domain.contact import email_lookup_key, identity_key

    email = f"bench.{uuid.uuid4().hex[:8]}@example.com"
    profile = c.identity.register(email, PASSWORD)
    c.users.confirm_email(profile.user_id, identity_key(email_lookup_key(email), c.blind_index), None)
    token = c.identity.login(PASSWORD, email=email).access_token
    return profile.user_id, token, c.ledger.wallets(profile.user_id)[0].wallet_id, email
