"""What refusing a revoked login's access token at once costs (issue 26).

Every authenticated request reads its session (services.identity `confirm_session`), so a login
ended by logout, "sign out everywhere else" or a password reset is refused on its next request
rather than when its access token expires. Through the Lambda handler on DynamoDB Local, for
`GET /me` (one read of its own: the user) this prints the DynamoDB calls and the median latency
with the session read and, as the baseline in the same run, with the read skipped (the token's
signature and claims still checked), interleaved, and their ratio. `POST /transfers` pays
nothing extra: it reads the session in its own first batch (bench/transfer.py).
"""
from __future__ import annotations

import statistics
import time
import uuid

from bench import report
from bench.calls import dynamodb_calls
from bench.stack import local_stack

N = 100


def main() -> None:
    with local_stack():
        _measure()


def _measure() -> None:
    from chalice.test import Client

    import app as chalice_app
    from chalicelib.container import get_container

    c = get_container()
    assert c.tables_bound  # the stack's DynamoDB Local, as the handler sees it
    email = f"bench.{uuid.uuid4().hex[:8]}@example.com"
    c.identity.register(email, "correct horse battery staple 42")
    token = c.identity.login("correct horse battery staple 42", email=email).access_token
    sessions = c.identity.sessions
    checked = sessions.is_active

    def skipped(session_id: str, now: int) -> bool:
        return True  # the baseline: no read, as if access tokens lived until they expire

    with Client(chalice_app.app) as client:
        def get_me() -> None:
            r = client.http.get("/me", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.body

        def with_check(on: bool) -> None:
            sessions.is_active = checked if on else skipped

        get_me()  # warm: imports, keys, connections
        calls = {}
        for on in (True, False):
            with_check(on)
            with dynamodb_calls(c.client("dynamodb")) as seen:
                get_me()
            calls[on] = seen
        times: dict[bool, list[float]] = {True: [], False: []}
        try:
            for _ in range(N):  # interleaved: DynamoDB Local warming up weighs on both alike
                for on in (True, False):
                    with_check(on)
                    started = time.perf_counter()
                    get_me()
                    times[on].append(time.perf_counter() - started)
        finally:
            sessions.is_active = checked
    p50 = {on: statistics.median(t) * 1000 for on, t in times.items()}
    report(f"session_check: GET /me makes {len(calls[True])} DynamoDB calls ({', '.join(calls[True])}) with the "
           f"per-request session read vs {len(calls[False])} without; p50 {p50[True]:.1f} ms vs {p50[False]:.1f} ms, "
           f"ratio {p50[True] / p50[False]:.2f}, +{p50[True] - p50[False]:.1f} ms a request (n={N} each, "
           f"interleaved); POST /transfers reads it in its own first batch: +0 round trips")


if __name__ == "__main__":
    main()
