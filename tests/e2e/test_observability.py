"""Logs are structured JSON with request and user ids, and a journey leaves no personal data,
token or secret in them."""
from __future__ import annotations

import json
import time
import uuid

from tests.e2e.log_scan import leaks, our_logs


def test_a_journey_logs_structured_lines_and_no_personal_data(stack, new_user, stack_container):
    from chalicelib.domain.ids import new_id
    from chalicelib.domain.money import Money

    alice, bob = new_user(), new_user()
    wallet = alice.api.request("GET", "/wallets").json()["items"][0]["wallet_id"]
    stack_container.ledger.credit_from_system("stripe_clearing", wallet, Money(1000, "USD"), new_id("tp"))
    r = alice.api.request("POST", "/transfers", {"from_wallet_id": wallet, "to": {"email": bob.email},
                                                 "amount": 10, "currency": "USD", "memo": "secret memo"},
                          headers={"Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201 and r.json()["status"] == "posted"

    def read() -> list[dict]:
        lines = []
        for path in our_logs(stack):  # one file per API worker (api.log, api-2.log, ...)
            for raw in path.read_text().splitlines():
                if raw.startswith("{"):
                    lines.append(json.loads(raw))
        return lines

    # Polled: on a busy machine a worker's lines can reach its file a moment after the answer.
    deadline = time.time() + 15
    lines = read()
    while not any("_aws" in line and "TransferPosted" in line for line in lines) and time.time() < deadline:
        time.sleep(0.3)
        lines = read()
    requests = [line for line in lines if line.get("message") == "request"]
    mine = [line for line in requests if line.get("user_id") == alice.user["user_id"]]
    assert mine and all(line["request_id"] and line["status"] for line in mine)
    assert any(line.get("path") == "/transfers" and line["status"] == 201 for line in mine)
    metrics = [line for line in lines if "_aws" in line]
    assert any("TransferPosted" in line for line in metrics), sorted(
        {m["Name"] for line in metrics for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]})
    assert leaks(stack) == []
    assert not any("secret memo" in json.dumps(line) for line in lines)
