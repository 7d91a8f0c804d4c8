"""Opaque list cursors: the last item's sort key, base64url JSON, checked against the shape the
list writes so that a forged cursor is a 400, never a query over someone else's keys."""
from __future__ import annotations

import base64
import json
import re

from chalicelib.domain.errors import InvalidRequest


def encode(sk: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"sk": sk}).encode()).decode().rstrip("=")


def decode(cursor: str, shape: re.Pattern[str]) -> str:
    try:
        sk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["sk"]
        if not isinstance(sk, str) or not shape.fullmatch(sk):
            raise ValueError
        return sk
    except (ValueError, KeyError, TypeError):
        raise InvalidRequest("The cursor is not valid.", details=[{"field": "cursor", "message": "invalid"}]) from None
