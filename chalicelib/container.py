"""Composition root: builds each adapter once per Lambda container, lazily.

Nothing is built at import time (no AWS call, no heavy import); a route asks for what it needs
and the first request in a fresh container pays for it once. Tests replace the container (or
single attributes of it) with `set_container`.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any

from chalicelib.config import Settings, get_settings
from chalicelib.domain.errors import Unauthorized
from chalicelib.domain.principal import Principal


class _NoAccessTokens:
    """Until token issuing exists, no token is valid: protected routes answer 401."""

    def verify_access(self, token: str) -> Principal:
        raise Unauthorized()


class Container:
    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings

    @cached_property
    def settings(self) -> Settings:
        return self._settings or get_settings()

    def client(self, service: str) -> Any:
        from chalicelib.adapters.aws import client

        return client(service, self.settings)

    @cached_property
    def tables_bound(self) -> bool:
        from chalicelib.adapters.dynamodb.tables import bind

        bind(self.settings)
        return True

    @cached_property
    def access_tokens(self) -> Any:
        return _NoAccessTokens()

    @cached_property
    def webhook_verifier(self) -> Any:
        from chalicelib.adapters.stripe_webhooks import StripeWebhookVerifier

        return StripeWebhookVerifier(self.settings.stripe_webhook_secret or "")

    @cached_property
    def event_queue(self) -> Any:
        from chalicelib.adapters.event_queue import SqsEventQueue

        if not self.settings.stripe_events_queue_url:
            raise RuntimeError("STRIPE_EVENTS_QUEUE_URL is not configured")
        return SqsEventQueue(self.settings.stripe_events_queue_url, self.client("sqs"))

    @cached_property
    def stripe_event_log(self) -> Any:
        from chalicelib.adapters.dynamodb.stripe_events import DynamoStripeEventLog

        assert self.tables_bound
        return DynamoStripeEventLog()

    @cached_property
    def notifiers(self) -> dict[str, Any]:
        return {}


_container: Container | None = None


def get_container() -> Container:
    global _container
    if _container is None:
        _container = Container()
    return _container


def set_container(container: Container | None) -> None:
    """Replace the container (tests); None resets to a fresh default on next use."""
    global _container
    _container = container
