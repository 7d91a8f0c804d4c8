"""Stripe's webhook: verify the signature over the raw body, enqueue, answer 200 fast."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib import observability
from chalicelib.api.routing import Call, route
from chalicelib.api.schemas import Received
from chalicelib.container import get_container
from chalicelib.domain.errors import InvalidWebhook

bp = Blueprint(__name__)


@route(bp, "/webhooks/stripe", "POST", summary="Stripe webhook (signed)", public=True,
       response=Received, errors=("invalid_signature",), tags=("funding",))
def stripe_webhook(call: Call) -> Received:
    from chalicelib.services import stripe_events  # only this route needs it (cold start)

    c = get_container()
    try:
        stripe_events.receive_webhook(call.raw_body, call.headers.get("stripe-signature"),
                                      c.webhook_verifier, c.event_queue)
    except InvalidWebhook:
        observability.count("WebhookRejected")
        raise
    return Received(received=True)
