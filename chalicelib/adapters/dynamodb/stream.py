"""DynamoDB stream records (as Lambda hands them over) read into `Change`s."""
from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from chalicelib.domain.notification import Change

_deserialize = TypeDeserializer().deserialize
log = logging.getLogger(__name__)


def table_of(record: dict[str, Any]) -> str:
    """The table name in a stream record's eventSourceARN (arn:...:table/NAME/stream/...)."""
    _, _, rest = str(record.get("eventSourceARN", "")).partition(":table/")
    return rest.split("/", 1)[0]


def _at(value: Any) -> float:
    # Lambda gives epoch seconds; boto3's get_records (the local pump) gives a datetime.
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return float(value) if value is not None else time.time()


def changes(records: Iterable[dict[str, Any]], table_prefix: str) -> Iterator[Change]:
    """The records of this stage's tables as `Change`s (others are skipped)."""
    for record in records:
        name = table_of(record)
        if not name.startswith(table_prefix):
            continue
        try:
            body = record.get("dynamodb") or {}
            image = {k: _deserialize(v) for k, v in (body.get("NewImage") or {}).items()}
            at = _at(body.get("ApproximateCreationDateTime"))
        except (AttributeError, KeyError, TypeError, ValueError):
            # It will never read better: skip it rather than fail (and retry) the batch forever.
            log.error("unreadable stream record of %s skipped", name)
            continue
        yield Change(table=name[len(table_prefix):], event=str(record.get("eventName", "")), image=image, at=at)
