"""Pushing to open WebSocket connections and closing them: API Gateway's management API
(post_to_connection, delete_connection).

In AWS the endpoint is the WebSocket API's stage URL; locally the dev stack's WebSocket server
implements the same `POST` and `DELETE /@connections/{id}`. The message is the notification the user may
read anyway; nothing is logged but the connection id's fate.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any


class ApiGatewayPusher:
    def __init__(self, client: Callable[..., Any], endpoint: str) -> None:
        self._client, self._endpoint = client, endpoint

    @cached_property
    def _api(self) -> Any:
        return self._client(self._endpoint)

    def send(self, connection_id: str, data: bytes) -> bool:
        """Deliver one text frame; False if the connection is gone (closed, or never was)."""
        try:
            self._api.post_to_connection(ConnectionId=connection_id, Data=data)
        except self._api.exceptions.GoneException:
            return False
        return True

    def close(self, connection_id: str) -> bool:
        """Close the connection (a revoked login's socket); False if it was gone already."""
        try:
            self._api.delete_connection(ConnectionId=connection_id)
        except self._api.exceptions.GoneException:
            return False
        return True


def management_client(settings: Any, endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    # Short timeouts: a push is best effort (the inbox has the notification), and the stream
    # batch must not wait on one slow connection.
    config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2, read_timeout=3)
    return boto3.session.Session().client("apigatewaymanagementapi", region_name=settings.region,
                                          endpoint_url=endpoint, config=config)
