"""Counting the DynamoDB calls a piece of code makes (bench/transfer prints them; a test holds
the transfer to its two round trips)."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def dynamodb_calls(client: Any) -> Iterator[list[str]]:
    """The operation names of every DynamoDB call made in the block, in order: those on `client`
    (the ledger's boto3 client) and those through PynamoDB's connection."""
    from pynamodb.connection.base import Connection

    calls: list[str] = []
    original = Connection.dispatch

    def on_boto(model: Any, **_: Any) -> None:
        calls.append(model.name)

    def counting(self: Any, operation_name: str, operation_kwargs: Any) -> Any:
        calls.append(operation_name)
        return original(self, operation_name, operation_kwargs)

    client.meta.events.register("before-call.dynamodb", on_boto)
    Connection.dispatch = counting  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        Connection.dispatch = original  # type: ignore[method-assign]
        client.meta.events.unregister("before-call.dynamodb", on_boto)
