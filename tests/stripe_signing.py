"""Sign webhook payloads exactly as Stripe does (t=<ts>,v1=HMAC-SHA256(secret, "<ts>.<payload>"))."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid


def sign(payload: str, secret: str, ts: int | None = None) -> str:
    ts = int(time.time()) if ts is None else ts
    sig = hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={sig}"


def event(type_: str, obj: dict, event_id: str | None = None) -> str:
    return json.dumps({"id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": type_,
                       "created": int(time.time()), "livemode": False, "data": {"object": obj}})
