"""The queue between the webhook route and the `stripe_events` Lambda (SQS)."""
from __future__ import annotations

from typing import Any


class SqsEventQueue:
    def __init__(self, queue_url: str, client: Any) -> None:
        self._url = queue_url
        self._client = client

    def send(self, body: str) -> None:
        self._client.send_message(QueueUrl=self._url, MessageBody=body)
