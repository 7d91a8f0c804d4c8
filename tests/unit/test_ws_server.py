"""devstack/ws_server.py: the local API Gateway WebSocket API, against fake handlers.

It opens sockets on 127.0.0.1 but needs nothing else running (no DynamoDB, no moto), so it
lives with the unit tests: tests/integration's conftest starts the whole stack for every test.
The management API is exercised with a real boto3 client, because what matters is that the
app's boto3 calls (and botocore's GoneException) behave as against API Gateway.
"""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from devstack.ws_server import WsServer


class Recorder:
    """Fake Chalice WebSocket handlers that keep every event they are given."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def _record(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(event)

    def connect(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self._record(event)
        query = event.get("queryStringParameters") or {}
        if query.get("token") == "raise":
            raise RuntimeError("the handler broke")
        return {"statusCode": 200 if query.get("token") == "good" else 401}

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self._record(event)
        return {"statusCode": 200, "body": "ignored"}

    def of(self, route: str, cid: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e["requestContext"]["routeKey"] == route
                    and (cid is None or e["requestContext"]["connectionId"] == cid)]

    def connect_event(self, client: str) -> dict[str, Any]:
        return next(e for e in self.of("$connect") if (e.get("queryStringParameters") or {}).get("client") == client)


def wait_for(found: Callable[[], Any], timeout: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = found()
        if got:
            return got
        time.sleep(0.01)
    raise AssertionError(f"not within {timeout} s")


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def server(recorder: Recorder) -> Iterator[WsServer]:
    s = WsServer({"$connect": recorder.connect, "$disconnect": recorder.handler, "$default": recorder.handler},
                 api_id="test-api", stage="local")
    s.start()
    yield s
    s.stop()


def management(endpoint_url: str) -> Any:
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint_url, region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="x")


@pytest.fixture(scope="module")
def api(server: WsServer) -> Any:
    return management(server.management_url)


def open_client(server: WsServer, client: str, token: str = "good") -> ClientConnection:
    return connect(f"{server.url}/?{urlencode({'token': token, 'client': client})}", open_timeout=2)


def cid_of(recorder: Recorder, client: str) -> str:
    return str(recorder.connect_event(client)["requestContext"]["connectionId"])


def test_ports_are_bound(server: WsServer) -> None:
    assert server.url.startswith("ws://127.0.0.1:") and not server.url.endswith(":0")
    assert server.management_url.startswith("http://127.0.0.1:") and not server.management_url.endswith(":0")


def test_connect_event_is_api_gateways(server: WsServer, recorder: Recorder) -> None:
    with open_client(server, "c1"):
        event = recorder.connect_event("c1")
    ctx = event["requestContext"]
    assert (ctx["routeKey"], ctx["eventType"]) == ("$connect", "CONNECT")
    assert (ctx["apiId"], ctx["stage"]) == ("test-api", "local")
    assert ctx["connectionId"] and ctx["domainName"] == server.url.removeprefix("ws://")
    assert ctx["identity"] == {"sourceIp": "127.0.0.1"} and isinstance(ctx["connectedAt"], int)
    assert event["queryStringParameters"] == {"token": "good", "client": "c1"}
    assert event["multiValueQueryStringParameters"] == {"token": ["good"], "client": ["c1"]}
    assert event["headers"]["Upgrade"] == "websocket" and event["multiValueHeaders"]["Upgrade"] == ["websocket"]
    assert event["isBase64Encoded"] is False


def test_refused_token_is_refused_at_the_handshake(server: WsServer, recorder: Recorder, api: Any) -> None:
    with pytest.raises(InvalidStatus) as refused:
        open_client(server, "c2", token="bad")
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body or b"") == {"message": "Unauthorized"}
    cid = cid_of(recorder, "c2")  # $connect ran, but no connection was made
    with pytest.raises(api.exceptions.GoneException):
        api.get_connection(ConnectionId=cid)
    assert not recorder.of("$disconnect", cid)


def test_a_raising_connect_handler_answers_500(server: WsServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        open_client(server, "c3", token="raise")
    assert refused.value.response.status_code == 500


def test_post_to_connection_reaches_the_client(server: WsServer, recorder: Recorder, api: Any) -> None:
    with open_client(server, "c4") as ws:
        cid = cid_of(recorder, "c4")
        api.post_to_connection(ConnectionId=cid, Data=b'{"hello": 1}')
        assert ws.recv(timeout=2) == '{"hello": 1}'
        described = api.get_connection(ConnectionId=cid)
        assert described["Identity"]["SourceIp"] == "127.0.0.1"
        assert described["ConnectedAt"] <= described["LastActiveAt"]


def test_endpoint_with_a_stage_path_works_too(server: WsServer, recorder: Recorder) -> None:
    # Chalice and botocore append /@connections/... to the endpoint's own path.
    staged = management(server.management_url + "/local")
    with open_client(server, "c5") as ws:
        staged.post_to_connection(ConnectionId=cid_of(recorder, "c5"), Data=b"staged")
        assert ws.recv(timeout=2) == "staged"


def test_text_frame_is_a_default_event(server: WsServer, recorder: Recorder) -> None:
    with open_client(server, "c6") as ws:
        cid = cid_of(recorder, "c6")
        ws.send('{"action": "ping"}')
        event = wait_for(lambda: recorder.of("$default", cid))[0]
    ctx = event["requestContext"]
    assert (ctx["routeKey"], ctx["eventType"], ctx["connectionId"]) == ("$default", "MESSAGE", cid)
    assert event["body"] == '{"action": "ping"}' and event["isBase64Encoded"] is False


def test_close_is_a_disconnect_and_then_gone(server: WsServer, recorder: Recorder, api: Any) -> None:
    with open_client(server, "c7"):
        cid = cid_of(recorder, "c7")
    event = wait_for(lambda: recorder.of("$disconnect", cid))[0]
    assert event["requestContext"]["eventType"] == "DISCONNECT" and "body" not in event
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId=cid, Data=b"late")


def test_delete_connection_closes_it(server: WsServer, recorder: Recorder, api: Any) -> None:
    with open_client(server, "c8") as ws:
        cid = cid_of(recorder, "c8")
        api.delete_connection(ConnectionId=cid)
        wait_for(lambda: recorder.of("$disconnect", cid))
        ws.recv_events_thread.join(2)  # the client saw the close too
        assert ws.close_code is not None
    with pytest.raises(api.exceptions.GoneException):
        api.delete_connection(ConnectionId=cid)


def test_two_connections_get_their_own_messages(server: WsServer, recorder: Recorder, api: Any) -> None:
    with open_client(server, "c9") as one, open_client(server, "c10") as two:
        api.post_to_connection(ConnectionId=cid_of(recorder, "c10"), Data=b"for two")
        api.post_to_connection(ConnectionId=cid_of(recorder, "c9"), Data=b"for one")
        assert one.recv(timeout=2) == "for one"
        assert two.recv(timeout=2) == "for two"


def test_unknown_connection_and_path(server: WsServer, api: Any) -> None:
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId="nope/=+", Data=b"x")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(server.management_url + "/elsewhere", timeout=2)
    assert missing.value.code == 404


def test_the_apps_pusher_closes_a_connection_and_knows_a_gone_one(server: WsServer, recorder: Recorder) -> None:
    from chalicelib.adapters.websocket import ApiGatewayPusher

    pusher = ApiGatewayPusher(management, server.management_url)
    with open_client(server, "c11") as ws:
        cid = cid_of(recorder, "c11")
        assert pusher.close(cid) is True
        wait_for(lambda: recorder.of("$disconnect", cid))
        ws.recv_events_thread.join(2)
        assert ws.close_code is not None
    assert pusher.close(cid) is False
