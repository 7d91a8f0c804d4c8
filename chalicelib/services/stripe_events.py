"""Stripe events: accept a webhook fast, then apply it once from the queue.

The webhook route only verifies and enqueues, so Stripe gets its 200 within milliseconds and a
slow database never causes Stripe to retry; the `stripe_events` Lambda applies each event
idempotently by its id.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.errors import InvalidWebhook

if TYPE_CHECKING:  # the webhook route imports this module at cold start
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
    outcome: str = ""


class EventHandler(Protocol):
    def apply(self, event_type: str, obj: dict[str, Any], account: str | None = None) -> str:
        """Apply the event's effect idempotently; a short description of what happened.
        `account`: the connected account the event happened on (Connect), None for ours."""


def apply_event(body: str, events: StripeEventLog, handler: EventHandler | None = None) -> Applied:
    """Apply one verified event exactly once in effect.

    The handlers are idempotent by construction (money moves under ids derived from the Stripe
    objects), so the event log is a fast path, not the guarantee: an event is marked applied only
    after its effect, and one that failed half-way is simply applied again on redelivery.
    """
    event = _parse(body)
    obj = event.get("data", {}).get("object") or {}
    obj = obj if isinstance(obj, dict) else {}
    if events.status_of(event["id"]) == "applied":
        log.info("duplicate stripe event ignored", extra={"event_id": event["id"]})
        return Applied(event_id=event["id"], type=event["type"], duplicate=True)
    events.record_received(event["id"], event["type"], obj.get("id"))
    # Events of connected accounts (a Connect endpoint) carry the account at the top level, not
    # on the object. It is passed only when there is one, so a handler that predates Connect
    # (two arguments) still applies the events of our own account.
    account = event.get("account") if isinstance(event.get("account"), str) and event.get("account") else None
    if handler is None:
        outcome = "recorded"
    elif account:
        outcome = handler.apply(event["type"], obj, account=account)
    else:
        outcome = handler.apply(event["type"], obj)
    events.mark_applied(event["id"], outcome)
    log.info("stripe event applied", extra={"event_id": event["id"], "event_type": event["type"],
                                             "account": account, "outcome": outcome})
    if outcome in ("credited", "paid", "voided", "applied"):
        from chalicelib import observability

        observability.count({"credited": "TopUpCredited", "paid": "WithdrawalPaid", "voided": "WithdrawalFailed",
                             "applied": "RefundOrDisputeApplied"}[outcome])
    return Applied(event_id=event["id"], type=event["type"], duplicate=False, outcome=outcome)


def _parse(body: str) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except ValueError:
        raise InvalidWebhook("The event is not JSON.") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) \
            or not isinstance(event.get("type"), str):
        raise InvalidWebhook("The event has no id or type.")
    return event
