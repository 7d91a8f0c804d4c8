"""Stripe webhook signature verification with stripe-python's own check."""
from __future__ import annotations

import time

from chalicelib.domain.errors import InvalidWebhook

# Stripe's recommended tolerance: older signed timestamps are replays.
TOLERANCE_SECONDS = 300


class StripeWebhookVerifier:
    """Accepts a payload signed with any of the configured secrets: Stripe signs events of the
    platform's own endpoint and of the Connect endpoint (events of connected accounts, such as
    their payouts) with two different secrets, both pointed at our one webhook route."""

    def __init__(self, *secrets: str | None) -> None:
        self._secrets = [s for s in secrets if s]
        if not self._secrets:
            raise ValueError("a webhook signing secret is required")

    def verify(self, payload: bytes, signature: str | None) -> None:
        """Raise `InvalidWebhook` unless `signature` signs exactly `payload`, recently."""
        if not signature:
            raise InvalidWebhook("The Stripe-Signature header is missing.")
        import stripe  # lazy: stripe-python costs a noticeable share of a cold start

        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidWebhook() from None
        for secret in self._secrets:
            try:
                stripe.WebhookSignature.verify_header(text, signature, secret, tolerance=TOLERANCE_SECONDS)
                break
            except (stripe.SignatureVerificationError, ValueError):
                continue
        else:
            raise InvalidWebhook()
        # stripe-python only bounds the past; a timestamp far in the future would make a
        # captured payload replayable for that long.
        # The first `t`, as stripe-python reads it (a later one must not move the check).
        stamps = [p.split("=", 1)[1] for p in signature.split(",") if p.startswith("t=")]
        if not stamps or not stamps[0].isdigit() or int(stamps[0]) > time.time() + TOLERANCE_SECONDS:
            raise InvalidWebhook()
