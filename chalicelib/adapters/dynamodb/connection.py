"""The PynamoDB connection for transactions, pointed at the bound endpoint."""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.dynamodb.errors import response_code
from chalicelib.adapters.dynamodb.models import UserRecord


def connection() -> Any:
    from pynamodb.connection import Connection

    meta: Any = UserRecord.Meta  # every model is bound to the same region and host
    return Connection(region=meta.region, host=meta.host)


def reason_codes(exc: Any) -> list[str | None]:
    """The per-item cancellation reason codes of a failed transaction (None where it passed)."""
    return [r.code if r is not None else None for r in (getattr(exc, "cancellation_reasons", None) or [])]


# One retry policy for every DynamoDB transaction (the ledger's and PynamoDB's): these
# cancellation reasons mean "contention, try again", never a 500.
RETRYABLE = ("TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded")
MAX_ATTEMPTS = 8


def backoff(attempt: int) -> float:
    """Full jitter, capped at a second."""
    return random.uniform(0, min(1.0, 0.02 * 2 ** attempt))


def transact(write: Callable[[Any], None], *, sleep: Callable[[float], None] = time.sleep) -> None:
    """Run `write(tx)` inside a PynamoDB `TransactWrite`, retried with full jitter while DynamoDB
    cancels it only for contention (TransactionConflict, throttling) or an identical transaction
    in flight: those are "try again", never a 500. A condition that failed is raised at once
    (TransactWriteError) for the caller to read the per-item reasons."""
    from pynamodb.exceptions import TransactWriteError
    from pynamodb.transactions import TransactWrite

    from chalicelib.domain.errors import ServiceUnavailable

    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with TransactWrite(connection=connection()) as tx:
                write(tx)
            return
        except TransactWriteError as exc:
            codes = [c for c in reason_codes(exc) if c not in (None, "None")]
            in_flight = response_code(exc) == "TransactionInProgressException"
            if not in_flight and (not codes or any(c not in RETRYABLE for c in codes)):
                raise
        sleep(backoff(attempt))
    raise ServiceUnavailable("The database is busy; try again.")


def capacity_request(measure: bool) -> dict[str, str]:
    """The parameter that makes DynamoDB say what a write consumed: benchmarks turn it on; the
    product never reads it, and it makes every answer bigger."""
    return {"ReturnConsumedCapacity": "TOTAL"} if measure else {}
