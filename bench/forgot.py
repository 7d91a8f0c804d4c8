"""Password reset without account enumeration: does `forgot` take as long for an unknown e-mail?

Over HTTP against the local stack: N accounts and N unknown e-mails, interleaved, one
`POST /auth/password/forgot` each (a fresh e-mail each time, so no rate limit shortens a path).
Prints the median and p90 of both and their ratio (1.00 means the time tells nothing).
"""
from __future__ import annotations

import statistics
import time
import uuid

import requests

from bench import report
from bench.stack import local_stack

N = 20


def main() -> None:
    with local_stack() as env:
        api = env["API_URL"]
        known = [f"bench.{uuid.uuid4().hex[:10]}@example.com" for _ in range(N)]
        for email in known:
            r = requests.post(f"{api}/auth/register", json={"email": email, "password": "correct horse battery 42"},
                              timeout=30)
            assert r.status_code == 201, r.text
        timings: dict[str, list[float]] = {"known": [], "unknown": []}
        for email in known:
            for kind, address in (("known", email), ("unknown", f"ghost.{uuid.uuid4().hex[:10]}@example.com")):
                started = time.perf_counter()
                r = requests.post(f"{api}/auth/password/forgot", json={"email": address}, timeout=30)
                timings[kind].append((time.perf_counter() - started) * 1000)
                assert r.status_code == 202 and r.json() == {}
        med = {k: statistics.median(v) for k, v in timings.items()}
        p90 = {k: statistics.quantiles(v, n=10)[-1] for k, v in timings.items()}
        report(f"forgot_password: known p50 {med['known']:.0f} ms p90 {p90['known']:.0f} ms, unknown p50 "
               f"{med['unknown']:.0f} ms p90 {p90['unknown']:.0f} ms, ratio known/unknown "
               f"{med['known'] / med['unknown']:.2f} (n={N} each)")


if __name__ == "__main__":
    main()
