"""Opaque ids and RFC 3339 timestamps."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def rfc3339(ts: float) -> str:
    """UTC with millisecond precision and a Z: 2026-11-21T10:12:00.123Z."""
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
