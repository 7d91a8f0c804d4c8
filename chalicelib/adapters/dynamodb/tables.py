"""Bind the PynamoDB models to a stage's tables and endpoint; create them for local use."""
from __future__ import annotations

import time
from typing import Any

from chalicelib.adapters.dynamodb.models import ALL_MODELS, BaseModel
from chalicelib.config import Settings


def table_name(settings: Settings, model: type[BaseModel]) -> str:
    return f"{settings.table_prefix}{model.table}"


def bind(settings: Settings, models: tuple[type[BaseModel], ...] = ALL_MODELS) -> None:
    """Point every model at this stage's table names and endpoint (idempotent)."""
    for model in models:
        meta: Any = model.Meta
        meta.table_name = table_name(settings, model)
        meta.region = settings.region
        meta.host = settings.dynamodb_endpoint
        # PynamoDB caches one connection per model class; drop it so the new host is used.
        model._connection = None


def create_tables(settings: Settings, models: tuple[type[BaseModel], ...] = ALL_MODELS) -> list[str]:
    """Create the missing tables (local stack and tests; AWS gets them from the template)."""
    bind(settings, models)
    created = []
    for model in models:
        if not model.exists():
            model.create_table(wait=True)
            created.append(table_name(settings, model))
            if model.ttl_attribute:
                _enable_ttl(settings, model)
    return created


def _enable_ttl(settings: Settings, model: type[BaseModel]) -> None:
    from chalicelib.adapters.aws import client

    ddb = client("dynamodb", settings)
    for _ in range(20):
        try:
            ddb.update_time_to_live(TableName=table_name(settings, model), TimeToLiveSpecification={
                "Enabled": True, "AttributeName": model.ttl_attribute})
            return
        except ddb.exceptions.ResourceInUseException:  # table still settling
            time.sleep(0.2)
