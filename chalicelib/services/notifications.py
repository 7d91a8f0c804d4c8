"""Notifications from table changes (DynamoDB stream -> the `notifications` Lambda).

Each table whose changes notify someone registers a notifier for its stream records; records of
other tables are skipped. The ledger registers the money-received notifier.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

StreamRecord = dict[str, Any]
Notifier = Callable[[StreamRecord], None]


def table_of(record: StreamRecord) -> str:
    """The table name in a stream record's eventSourceARN (arn:...:table/NAME/stream/...)."""
    arn = record.get("eventSourceARN", "")
    _, _, rest = arn.partition(":table/")
    return rest.split("/", 1)[0]


def handle_records(records: Iterable[StreamRecord], notifiers: dict[str, Notifier]) -> int:
    """Hand each record to its table's notifier; the number of records handled."""
    handled = 0
    for record in records:
        notifier = notifiers.get(table_of(record))
        if notifier is not None:
            notifier(record)
            handled += 1
    return handled
