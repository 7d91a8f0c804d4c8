"""Stripe webhook signature verification with stripe-python's own check."""
from __future__ import annotations

import time

from chalicelib.domain.errors import InvalidWebhook

# Stripe's recommended tolerance: older signed timestamps are replays.
TOLERANCE_SECONDS = 300


class StripeWebhookVerifier:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("a webhook signing secret is required")
        self._secret = secret

    def verify(self, payload: bytes, signature: str | None) -> None:
        """Raise `InvalidWebhook` unless `signature` signs exactly `payload`, recently."""
        if not signature:
            raise InvalidWebhook("The Stripe-Signature header is missing.")
        import stripe  # lazy: stripe-python costs a noticeable share of a cold start

        try:
            stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature, self._secret,
                                                  tolerance=TOLERANCE_SECONDS)
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError):
            raise InvalidWebhook() from None
        # stripe-python only bounds the past; a timestamp far in the future would make a
        # captured payload replayable for that long.
        timestamp = int(dict(p.split("=", 1) for p in signature.split(",") if "=" in p)["t"])
        if timestamp > time.time() + TOLERANCE_SECONDS:
            raise InvalidWebhook()
