"""Settings, read lazily from the environment.

`.chalice/config.json` sets the per-stage environment in AWS; the local stack passes the same
variables to `chalice local` and the event pump. Nothing here runs at import time: call
`get_settings()` when a value is needed.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from chalicelib.domain.money import EXPONENTS


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    stage: str = "local"
    region: str = "us-east-1"
    # Endpoints are set only for the local stack; in AWS they stay None and boto3 uses the
    # regional endpoints.
    dynamodb_endpoint: str | None = None
    aws_endpoint: str | None = None
    table_prefix: str = "ewallet-local-"
    stripe_events_queue_url: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_key: str | None = None
    stripe_api_base: str | None = None
    currencies: tuple[str, ...] = ("USD", "EUR", "GBP", "SGD", "JPY")
    default_currency: str = "USD"
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        currencies = _csv(env.get("CURRENCIES", "")) or cls.currencies
        unknown = [c for c in currencies if c not in EXPONENTS]
        if unknown:
            raise ValueError(f"CURRENCIES has unknown currencies: {unknown}")
        default_currency = env.get("DEFAULT_CURRENCY", currencies[0] if "USD" not in currencies else "USD")
        if default_currency not in currencies:
            raise ValueError("DEFAULT_CURRENCY must be one of CURRENCIES")
        stage = env.get("STAGE", "local")
        return cls(
            stage=stage,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            dynamodb_endpoint=env.get("DYNAMODB_ENDPOINT") or None,
            aws_endpoint=env.get("AWS_ENDPOINT") or None,
            table_prefix=env.get("TABLE_PREFIX", f"ewallet-{stage}-"),
            stripe_events_queue_url=env.get("STRIPE_EVENTS_QUEUE_URL") or None,
            stripe_webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or None,
            stripe_api_key=env.get("STRIPE_API_KEY") or None,
            stripe_api_base=env.get("STRIPE_API_BASE") or None,
            currencies=currencies,
            default_currency=default_currency,
            cors_origins=_csv(env.get("CORS_ORIGINS", "")),
            log_level=env.get("LOG_LEVEL", "INFO"),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
