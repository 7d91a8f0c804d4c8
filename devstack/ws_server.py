"""The local stand-in for an API Gateway WebSocket API, for the dev stack.

`chalice local` serves no WebSockets, so without this the app's Chalice WebSocket handlers
(`$connect`, `$disconnect`, `$default`) could only run in AWS. This server does locally what
API Gateway does there:

* it accepts real WebSocket connections and turns the handshake, each text frame and the close
  into the Lambda proxy events API Gateway sends, calling the handlers exactly as Lambda would
  (`handler(event, context)`); a `$connect` answer that is not 2xx refuses the handshake with
  that HTTP status, as API Gateway does;
* on a second port it serves API Gateway's management API (`/@connections/{connectionId}`),
  so the app pushes to a connection with its ordinary boto3 `apigatewaymanagementapi` client
  pointed at `management_url`, and gets `GoneException` for a connection that is gone.

The handlers do blocking I/O (boto3), so they run in worker threads, never on the event loop.
Message bodies and query strings carry access tokens: only route keys, connection ids and
statuses are logged.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import email.utils
import http
import json
import logging
import re
import secrets
import signal
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from devstack.pump import LambdaContext

log = logging.getLogger("ws")

T = TypeVar("T")

# The Chalice functions of app.py behind each route (names, like pump.SCHEDULED, so that this
# module type-checks on its own).
ROUTES = {"$connect": "ws_connect", "$disconnect": "ws_disconnect", "$default": "ws_message"}

# API Gateway's quotas: 128 KB per message either way. Mirrored so that a payload that would
# fail in AWS fails locally too.
MAX_MESSAGE_BYTES = 128 * 1024
# API Gateway gives a $connect integration 29 s; the handshake must outlive the handler.
HANDSHAKE_TIMEOUT = 30.0
# How long a management API call waits for the event loop (a send to a client that reads
# nothing can block on a full buffer).
MANAGEMENT_TIMEOUT = 10.0

# `/@connections/{id}`, also under a path prefix: botocore appends the operation's path to
# endpoint_url's path (e.g. `http://host:port/local`). The id is percent-encoded by botocore.
_CONNECTION_PATH = re.compile(r"^(?:/[^/]+)*/@connections/([^/]+)$")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _aws_id() -> str:
    """An id shaped like API Gateway's (16 base64 chars ending in `=`), url-safe alphabet."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode()


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Connection:
    """One accepted connection, as API Gateway remembers it."""

    cid: str
    source_ip: str
    domain: str
    connected_at: int = field(default_factory=_now_ms)
    last_active_at: int = field(default_factory=_now_ms)
    ws: ServerConnection | None = None  # set once the handshake has completed


# --- the Lambda proxy events API Gateway sends ---------------------------------------------


def request_context(conn: Connection, route: str, event_type: str, api_id: str, stage: str) -> dict[str, Any]:
    now = _now_ms()
    return {
        "routeKey": route, "eventType": event_type, "extendedRequestId": _aws_id(),
        "requestTime": email.utils.formatdate(now / 1000, usegmt=True), "messageDirection": "IN",
        "stage": stage, "connectedAt": conn.connected_at, "requestTimeEpoch": now,
        "identity": {"sourceIp": conn.source_ip}, "requestId": _aws_id(), "domainName": conn.domain,
        "connectionId": conn.cid, "apiId": api_id,
    }


def connect_event(conn: Connection, request: Request, api_id: str, stage: str) -> dict[str, Any]:
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers.raw_items():
        headers[name] = value  # API Gateway's `headers` keeps the last value of a repeated one
        multi_headers.setdefault(name, []).append(value)
    event: dict[str, Any] = {
        "headers": headers, "multiValueHeaders": multi_headers,
        "requestContext": request_context(conn, "$connect", "CONNECT", api_id, stage),
        "isBase64Encoded": False,
    }
    pairs = parse_qsl(urlsplit(request.path).query, keep_blank_values=True)
    if pairs:  # API Gateway leaves both keys out when there is no query string
        multi_query: dict[str, list[str]] = {}
        for name, value in pairs:
            multi_query.setdefault(name, []).append(value)
        event["queryStringParameters"] = {name: values[-1] for name, values in multi_query.items()}
        event["multiValueQueryStringParameters"] = multi_query
    return event


def message_event(conn: Connection, body: str, api_id: str, stage: str) -> dict[str, Any]:
    context = request_context(conn, "$default", "MESSAGE", api_id, stage)
    context["messageId"] = _aws_id()
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def disconnect_event(conn: Connection, code: int | None, reason: str, api_id: str, stage: str) -> dict[str, Any]:
    context = request_context(conn, "$disconnect", "DISCONNECT", api_id, stage)
    context.update(disconnectStatusCode=code, disconnectReason=reason)
    return {"headers": {"Host": conn.domain}, "multiValueHeaders": {"Host": [conn.domain]},
            "requestContext": context, "isBase64Encoded": False}


def _status_of(result: dict[str, Any] | None) -> int:
    # Chalice always answers a dict with a statusCode; a bare Lambda answering nothing is
    # accepted by API Gateway, so a missing one counts as 200.
    if not isinstance(result, dict):
        return 200
    try:
        return int(result.get("statusCode", 200))
    except (TypeError, ValueError):
        return 500


def _refusal(status: int) -> Response:
    """The HTTP answer that refuses a handshake (websockets 15: returned by process_request)."""
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:  # a status http.HTTPStatus does not know (e.g. 499) is still answered
        phrase = "Refused"
    body = json.dumps({"message": "Internal server error" if status >= 500 else phrase}).encode()
    headers = Headers([("Date", email.utils.formatdate(usegmt=True)), ("Connection", "close"),
                       ("Content-Length", str(len(body))), ("Content-Type", "application/json")])
    return Response(status, phrase, headers, body)


# --- the server ------------------------------------------------------------------------------


class WsServer:
    def __init__(self, handlers: dict[str, Callable[[dict[str, Any], Any], dict[str, Any] | None]],
                 host: str = "127.0.0.1", port: int = 0, management_port: int = 0, api_id: str = "local",
                 stage: str = "local") -> None:
        self.handlers = handlers
        self.host, self.port, self.management_port = host, port, management_port
        self.api_id, self.stage = api_id, stage
        # Both touched only on the event loop's thread (the management API goes through it).
        self._connections: dict[str, Connection] = {}
        # The same connections by websocket, for the connection handler to find its own; weak so
        # that a handshake failing after $connect leaves nothing behind here.
        self._accepted: weakref.WeakKeyDictionary[ServerConnection, Connection] = weakref.WeakKeyDictionary()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._ws_thread: threading.Thread | None = None
        self._http: _ManagementServer | None = None
        self._http_thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def management_url(self) -> str:
        return f"http://{self.host}:{self.management_port}"

    # --- lifecycle ---

    def start(self) -> None:
        """Listens on both ports; returns once both accept connections."""
        self._http = _ManagementServer((self.host, self.management_port), self)
        self.management_port = self._http.server_address[1]
        self._http_thread = threading.Thread(target=self._http.serve_forever, name="ws-management", daemon=True)
        self._http_thread.start()
        self._ws_thread = threading.Thread(target=self._run_loop, name="ws-server", daemon=True)
        self._ws_thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._stop_http()
            raise self._startup_error

    def stop(self) -> None:
        """Closes every connection (each gets its $disconnect, as in AWS) and both servers."""
        if self._loop is not None and self._stopping is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._ws_thread is not None:
            self._ws_thread.join(timeout=15)
        self._stop_http()

    def _stop_http(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def _run_loop(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception as exc:  # start() must hear of a failure (a port in use), not hang
            log.exception("the websocket server failed")
            self._startup_error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        async with serve(self._on_connection, self.host, self.port, process_request=self._handshake,
                         max_size=MAX_MESSAGE_BYTES, open_timeout=HANDSHAKE_TIMEOUT) as server:
            self.port = _bound_port(server)
            self._ready.set()
            await self._stopping.wait()
        # Leaving `serve` closed the connections and waited for their $disconnect handlers.

    # --- API Gateway's side of a connection ---

    async def _call(self, route: str, event: dict[str, Any]) -> dict[str, Any] | None:
        """The route's handler, in a worker thread (it does blocking I/O)."""
        handler = self.handlers.get(route)
        if handler is None:
            return None
        return await asyncio.to_thread(handler, event, LambdaContext(route))

    async def _handshake(self, ws: ServerConnection, request: Request) -> Response | None:
        """$connect: None lets the handshake go on; a Response refuses it with that status."""
        remote = ws.remote_address
        conn = Connection(cid=_aws_id(), source_ip=str(remote[0]) if remote else "127.0.0.1",
                          domain=f"{self.host}:{self.port}")
        try:
            status = _status_of(await self._call("$connect", connect_event(conn, request, self.api_id, self.stage)))
        except Exception:
            log.exception("$connect handler failed for %s", conn.cid)
            status = 500
        if not 200 <= status < 300:
            log.info("$connect %s refused: %s", conn.cid, status)
            return _refusal(status)
        # Known from here on: websockets sends the 101 right after this returns, with no await
        # in between, so a client that has its 101 can already be posted to (as in AWS, a post
        # during the $connect handler itself is answered 410).
        conn.ws = ws
        self._accepted[ws] = conn
        self._connections[conn.cid] = conn
        log.info("$connect %s accepted", conn.cid)
        return None

    async def _on_connection(self, ws: ServerConnection) -> None:
        conn = self._accepted.pop(ws)
        try:
            await self._read(conn, ws)
        finally:
            self._connections.pop(conn.cid, None)
            await self._disconnected(conn, ws)

    async def _read(self, conn: Connection, ws: ServerConnection) -> None:
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    continue  # API Gateway's $default here is for text; binary frames are dropped
                conn.last_active_at = _now_ms()
                await self._route("$default", message_event(conn, message, self.api_id, self.stage), conn)
        except ConnectionClosed:
            pass  # closed with an error code: still a disconnect, handled by the caller

    async def _disconnected(self, conn: Connection, ws: ServerConnection) -> None:
        # Either side may have closed; websockets reports the close frame's code (1006 if the
        # TCP connection just dropped), as API Gateway's disconnectStatusCode does.
        event = disconnect_event(conn, ws.close_code, ws.close_reason or "", self.api_id, self.stage)
        await self._route("$disconnect", event, conn)

    async def _route(self, route: str, event: dict[str, Any], conn: Connection) -> None:
        """A $default or $disconnect call; its answer is dropped (no route responses here)."""
        try:
            status = _status_of(await self._call(route, event))
        except Exception:
            log.exception("%s handler failed for %s", route, conn.cid)
            return
        log.info("%s %s: %s", route, conn.cid, status)

    # --- the management API, run on the loop for the HTTP threads ---

    def on_loop(self, coro: Coroutine[Any, Any, T]) -> T | None:
        """Runs a coroutine on the server's loop from another thread and returns its result
        (None when the server has stopped: every connection is gone then)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()
            return None
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(MANAGEMENT_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise

    async def post(self, cid: str, data: bytes) -> bool:
        conn = self._connections.get(cid)
        if conn is None or conn.ws is None:
            return False
        try:
            text = data.decode()
        except UnicodeDecodeError:
            message: str | bytes = data  # not text: the client gets the bytes as they are
        else:
            message = text
        try:
            await conn.ws.send(message)
        except ConnectionClosed:
            return False  # closing already: gone, though its $disconnect has not run yet
        return True

    async def delete(self, cid: str) -> bool:
        conn = self._connections.get(cid)
        if conn is None or conn.ws is None:
            return False
        # Not awaited: the close completes on its own and its $disconnect follows, as in AWS
        # where DeleteConnection answers before the $disconnect handler has run.
        asyncio.get_running_loop().create_task(conn.ws.close())
        return True

    async def describe(self, cid: str) -> dict[str, Any] | None:
        conn = self._connections.get(cid)
        if conn is None:
            return None
        return {"connectedAt": _iso(conn.connected_at), "identity": {"sourceIp": conn.source_ip},
                "lastActiveAt": _iso(conn.last_active_at)}


def _bound_port(server: Server) -> int:
    return int(next(iter(server.sockets)).getsockname()[1])


# --- the management API's HTTP side ----------------------------------------------------------


class _ManagementServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], ws: WsServer) -> None:
        self.ws = ws
        super().__init__(address, _ManagementHandler)


class _ManagementHandler(BaseHTTPRequestHandler):
    """`POST|GET|DELETE /@connections/{connectionId}`, answered as API Gateway does."""

    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects

    @property
    def _ws(self) -> WsServer:
        return cast(_ManagementServer, self.server).ws

    def _connection_id(self) -> str | None:
        match = _CONNECTION_PATH.match(urlsplit(self.path).path)
        # Split first, decode after: an encoded `/` in an id must not split it.
        return unquote(match.group(1)) if match else None

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_POST(self) -> None:
        self._guarded(self._post)

    def do_DELETE(self) -> None:
        self._guarded(self._delete)

    def do_GET(self) -> None:
        self._guarded(self._get)

    def _guarded(self, act: Callable[[], None]) -> None:
        # A failure (a send timing out on a client that reads nothing) answers 500 rather than
        # dropping the request unanswered; botocore then retries as it would with API Gateway.
        try:
            act()
        except Exception:
            log.exception("management %s failed", self.command)
            self._answer(500, {"message": "Internal server error"}, "InternalServerErrorException")

    def _post(self) -> None:
        cid, data = self._connection_id(), self._body()
        if cid is None:
            return self._answer(404, {"message": "Not Found"})
        if len(data) > MAX_MESSAGE_BYTES:
            return self._answer(413, {"message": "Payload too large"}, "PayloadTooLargeException", cid)
        self._answer_or_gone(self._ws.on_loop(self._ws.post(cid, data)), 200, cid)

    def _delete(self) -> None:
        cid = self._connection_id()
        if cid is None:
            return self._answer(404, {"message": "Not Found"})
        self._answer_or_gone(self._ws.on_loop(self._ws.delete(cid)), 204, cid)

    def _get(self) -> None:
        cid = self._connection_id()
        if cid is None:
            return self._answer(404, {"message": "Not Found"})
        found = self._ws.on_loop(self._ws.describe(cid))
        self._answer_or_gone(found, 200, cid, found)

    def do_PUT(self) -> None:
        self._body()
        self._answer(404, {"message": "Not Found"})

    do_PATCH = do_PUT

    def _answer_or_gone(self, ok: Any, status: int, cid: str, body: dict[str, Any] | None = None) -> None:
        if not ok:
            # botocore takes the error code from x-amzn-ErrorType: this is what makes it raise
            # client.exceptions.GoneException.
            return self._answer(410, {"message": "Gone"}, "GoneException", cid)
        self._answer(status, body, None, cid)

    def _answer(self, status: int, body: dict[str, Any] | None, error: str | None = None,
                cid: str | None = None) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        if error:
            self.send_header("x-amzn-ErrorType", error)
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        log.info("management %s %s: %s", self.command, cid or "-", status)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the default access log prints paths; _answer logs what is safe to log


# --- `python -m devstack.ws_server` ----------------------------------------------------------


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="ws: %(message)s")
    # websockets logs request paths (query strings: tokens) and frames at DEBUG: never that.
    logging.getLogger("websockets").setLevel(logging.INFO)
    parser = argparse.ArgumentParser(prog="python -m devstack.ws_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--management-port", type=int, default=0)
    args = parser.parse_args()

    import app as chalice_app

    handlers = {route: getattr(chalice_app, name) for route, name in ROUTES.items()}
    server = WsServer(handlers, host=args.host, port=args.port, management_port=args.management_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    log.info("listening on %s, management API on %s", server.url, server.management_url)
    print("websocket server running", flush=True)
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
