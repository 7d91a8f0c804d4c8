"""The interfaces services depend on; adapters implement them, tests fake them."""
from __future__ import annotations

from typing import Protocol


class WebhookVerifier(Protocol):
    def verify(self, payload: bytes, signature: str | None) -> None:
        """Raise `InvalidWebhook` unless the signature is valid for this exact payload."""


class EventQueue(Protocol):
    def send(self, body: str) -> None:
        """Enqueue one message for the event-processing Lambda."""


class StripeEventLog(Protocol):
    def record_received(self, event_id: str, type_: str, object_id: str | None) -> bool:
        """Record an event id; False if it had been recorded before."""
