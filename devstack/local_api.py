"""Serve the app like `chalice local --stage local`, but safe under concurrent clients.

Chalice's local server is threaded while the app object keeps one `current_request`, so two
simultaneous requests could read each other's body or token. Here each worker process handles
one request at a time (as one Lambda container does) and several workers share the port through
SO_REUSEPORT, so concurrency tests reach DynamoDB concurrently, like several Lambda containers.
Config and app loading are Chalice's own (`CLIFactory`), as `chalice local` does them.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from chalice import local
from chalice.cli.factory import CLIFactory

from devstack import greedy_routes


class ReusePortServer(local.ThreadedHTTPServer):  # type: ignore[misc]
    daemon_threads = True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


class AnyMethodHandler(local.ChaliceRequestHandler):  # type: ignore[misc]
    """Hand every HTTP method to the app, TRACE and unknown ones included: the base handler
    answers methods it has no `do_X` for with its own 501 HTML page, which no client of this API
    should see; the app answers 405 in the contract's shape with `Allow`."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_") and name[3:].isalpha() and name[3:].isupper():
            return self._generic_handle
        raise AttributeError(name)

    def _send_http_response_with_body(self, code: int, headers: Any, body: str | bytes) -> None:
        if self.command != "HEAD":
            super()._send_http_response_with_body(code, headers, body)
            return
        # A HEAD answer has headers only; a body would be read as the start of the next
        # response on a kept-alive connection (API Gateway drops it too).
        self.send_response(code)
        self.send_header("Content-Length", str(len(body.encode("utf-8") if isinstance(body, str) else body)))
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        self._send_headers(headers)


def _serialize_gateway() -> None:
    lock = threading.Lock()
    original = local.LocalGateway.handle_request

    def handle_request(self: Any, *args: Any, **kwargs: Any) -> Any:
        queued = time.perf_counter()
        with lock:
            started = time.perf_counter()
            response = original(self, *args, **kwargs)
        # Where a request's time went, for bench/load.py: waiting for this worker (queueing in
        # front of it, which Lambda's concurrency does not have) and the handler itself. A dev
        # server's header only: API Gateway never sees it.
        done = time.perf_counter()
        if isinstance(response, dict) and isinstance(response.get("headers"), dict):
            response["headers"]["Server-Timing"] = (
                f"queue;dur={(started - queued) * 1000:.1f}, app;dur={(done - started) * 1000:.1f}")
        return response

    local.LocalGateway.handle_request = handle_request  # type: ignore[method-assign]


def _own_log_file(worker: int) -> None:
    """Give a forked worker its own log file beside the first one's (api.log -> api-2.log).

    Processes writing one file interleave partial lines (print writes text and newline
    separately), which would break the JSON log lines; one writer per file never does."""
    current = Path(os.readlink("/proc/self/fd/1"))
    if current.suffix != ".log":
        return  # a terminal or a pipe: leave it
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(current.with_name(f"{current.stem}-{worker + 1}.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--stage", default="local")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("API_WORKERS", "3")))
    args = parser.parse_args()

    greedy_routes.install()
    _serialize_gateway()
    factory = CLIFactory(project_dir=os.getcwd(), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=args.stage)
    app = config.chalice_app  # loads app.py with the stage's environment variables applied
    from chalice.deploy.validate import validate_routes

    validate_routes(app.routes)
    workers: list[int] = []
    for _ in range(args.workers - 1):
        pid = os.fork()
        if pid == 0:
            # A worker dies with the first process, however that one ends (like the launcher's
            # own children do), so no orphan keeps the port.
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
            _own_log_file(len(workers) + 1)
            workers.clear()
            break
        workers.append(pid)

    def stop(signum: int, _frame: object) -> None:
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    server = local.LocalDevServer(app, config, args.host, args.port, server_cls=ReusePortServer,
                                  handler_cls=AnyMethodHandler)
    print(f"API worker {os.getpid()} serving on http://{args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
