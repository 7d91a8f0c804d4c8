"""Stripe events: accept a webhook fast, then apply it once from the queue.

The webhook route only verifies and enqueues, so Stripe gets its 200 within milliseconds and a
slow database never causes Stripe to retry; the `stripe_events` Lambda applies each event
idempotently by its id.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import InvalidWebhook
from chalicelib.services.ports import EventQueue, StripeEventLog, WebhookVerifier

log = logging.getLogger(__name__)


def receive_webhook(payload: bytes, signature: str | None, verifier: WebhookVerifier,
                    queue: EventQueue) -> None:
    """Verify the signature over the raw body, then enqueue the event unchanged."""
    verifier.verify(payload, signature)
    event = _parse(payload.decode("utf-8"))
    queue.send(json.dumps(event, separators=(",", ":")))
    log.info("stripe event queued", extra={"event_id": event["id"], "event_type": event["type"]})


@dataclass(frozen=True)
class Applied:
    event_id: str
    type: str
    duplicate: bool


def apply_event(body: str, events: StripeEventLog) -> Applied:
    """Apply one verified event exactly once (a redelivery is recorded as a duplicate)."""
    event = _parse(body)
    obj = event.get("data", {}).get("object") or {}
    object_id = obj.get("id") if isinstance(obj, dict) else None
    is_new = events.record_received(event["id"], event["type"], object_id)
    if not is_new:
        log.info("duplicate stripe event ignored", extra={"event_id": event["id"]})
    return Applied(event_id=event["id"], type=event["type"], duplicate=not is_new)


def _parse(body: str) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except ValueError:
        raise InvalidWebhook("The event is not JSON.") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) \
            or not isinstance(event.get("type"), str):
        raise InvalidWebhook("The event has no id or type.")
    return event
