"""The PynamoDB connection for transactions, pointed at the bound endpoint."""
from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamodb.models import UserRecord


def connection() -> Any:
    from pynamodb.connection import Connection

    meta: Any = UserRecord.Meta  # every model is bound to the same region and host
    return Connection(region=meta.region, host=meta.host)


def reason_codes(exc: Any) -> list[str | None]:
    """The per-item cancellation reason codes of a failed transaction (None where it passed)."""
    return [r.code if r is not None else None for r in (getattr(exc, "cancellation_reasons", None) or [])]
