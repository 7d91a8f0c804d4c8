"""In-memory fakes of the service ports (cosmicpython style: behaviour, not mocks)."""
from __future__ import annotations

from chalicelib.domain.errors import InvalidWebhook


class FakeVerifier:
    def __init__(self, valid: bool = True) -> None:
        self.valid = valid

    def verify(self, payload: bytes, signature: str | None) -> None:
        if not self.valid or not signature:
            raise InvalidWebhook()


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, body: str) -> None:
        self.sent.append(body)


class FakeStripeEventLog:
    def __init__(self) -> None:
        self.events: dict[str, tuple[str, str | None]] = {}

    def record_received(self, event_id: str, type_: str, object_id: str | None) -> bool:
        if event_id in self.events:
            return False
        self.events[event_id] = (type_, object_id)
        return True
