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

    def status_of(self, event_id: str) -> str | None:
        """received | applied | None (never seen)."""

    def mark_applied(self, event_id: str, outcome: str) -> None:
        """The event's effect is done."""


class Counters(Protocol):
    def current(self, key: str, now: int) -> tuple[int, int]:
        """(failures in the live window, end of that window)."""

    def hit(self, key: str, now: int, window: int) -> tuple[int, int]:
        """Count one failure; the window's new count and end."""

    def clear(self, key: str) -> None:
        """Forget the failures (after a success)."""


class FieldCipher(Protocol):
    def encrypt(self, plaintext: str, owner: str, field: str) -> str: ...

    def decrypt(self, ciphertext: str, owner: str, field: str) -> str: ...
