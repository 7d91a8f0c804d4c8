"""Serve the app like `chalice local --stage local`, but safe under concurrent clients.

Chalice's local server is threaded while the app object keeps one `current_request`, so two
simultaneous requests could read each other's body or token. Here each worker process handles
one request at a time (as one Lambda container does), and every request goes to a worker that is
free, as API Gateway hands it to an idle container: the workers share one listening socket and
only a free worker waits in `accept`, so the kernel gives each new connection to one of them.
A connection carries one request (`Connection: close`): a kept-alive connection would tie its
client to one worker, and clients would queue behind a busy worker while others idle (what the
earlier SO_REUSEPORT design did: the kernel spread connections by a hash of their addresses).
The first process keeps the pool full (`Pool`): a worker that dies is replaced.
Config and app loading are Chalice's own (`CLIFactory`), as `chalice local` does them.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import http.server
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from chalice import local
from chalice.cli.factory import CLIFactory

from devstack import greedy_routes


class SharedSocketServer(http.server.HTTPServer):
    """Bound once, before the workers fork: they all accept from its one queue."""

    allow_reuse_address = True
    request_queue_size = 256  # connections waiting for a free worker (socketserver's default is 5)

    def server_bind(self) -> None:
        # A connection reaches accept() only once its request has started to arrive: browsers
        # open connections they may never use (speculative preconnects), and each would
        # otherwise hold a worker, one request at a time, until the handler's timeout.
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 5)
        super().server_bind()


class AnyMethodHandler(local.ChaliceRequestHandler):  # type: ignore[misc]
    """Hand every HTTP method to the app, TRACE and unknown ones included: the base handler
    answers methods it has no `do_X` for with its own 501 HTML page, which no client of this API
    should see; the app answers 405 in the contract's shape with `Allow`.

    One request per connection, then the worker is free for whoever connects next."""

    timeout = 10  # seconds a read may wait: a client that stops sending does not hold a worker for good

    def handle(self) -> None:
        self.handle_one_request()

    def end_headers(self) -> None:
        if not any(line.lower().startswith(b"connection:") for line in getattr(self, "_headers_buffer", [])):
            self.send_header("Connection", "close")
        super().end_headers()

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


def _time_gateway() -> None:
    original = local.LocalGateway.handle_request

    def handle_request(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        response = original(self, *args, **kwargs)
        # The handler's own time, for bench/load.py (the client's latency less this is the wait
        # for a free worker and the HTTP around it). A dev server's header only: API Gateway
        # never sees it.
        if isinstance(response, dict) and isinstance(response.get("headers"), dict):
            response["headers"]["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    local.LocalGateway.handle_request = handle_request  # type: ignore[method-assign]


def _serve(server: SharedSocketServer) -> None:
    """Wait for a connection only while free: a busy worker is never handed one."""
    while True:
        try:
            request, address = server.get_request()
        except OSError:  # e.g. out of file descriptors: the connection waits in the queue
            time.sleep(0.05)
            continue
        try:
            server.finish_request(request, address)
        except Exception:  # noqa: BLE001 - a broken connection must not stop the worker
            server.handle_error(request, address)
        finally:
            server.shutdown_request(request)


def _own_log_file(worker: int, keep: bool = False) -> None:
    """Give a forked worker its own log file beside the first one's (api.log -> api-2.log).

    Processes writing one file interleave partial lines (print writes text and newline
    separately), which would break the JSON log lines; one writer per file never does."""
    current = Path(os.readlink("/proc/self/fd/1"))
    if current.suffix != ".log":
        return  # a terminal or a pipe: leave it
    sys.stdout.flush()
    sys.stderr.flush()
    # A worker started in place of one that died keeps what that one wrote.
    mode = os.O_APPEND if keep else os.O_TRUNC
    fd = os.open(current.with_name(f"{current.stem}-{worker + 1}.log"), os.O_WRONLY | os.O_CREAT | mode, 0o644)
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
    _time_gateway()
    factory = CLIFactory(project_dir=os.getcwd(), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=args.stage)
    app = config.chalice_app  # loads app.py with the stage's environment variables applied
    from chalice.deploy.validate import validate_routes

    validate_routes(app.routes)
    server = SharedSocketServer((args.host, args.port),
                                functools.partial(AnyMethodHandler, app_object=app, config=config))
    Pool(server, args.workers, f"http://{args.host}:{args.port}").run()


class Pool:
    """The first process only keeps the pool full: it forks the workers (the app loaded once,
    before), and forks a new one in place of any that dies, as Lambda starts a new container
    for one that crashed. A worker that dies at once again and again is given a second between
    tries, so a broken app does not spin."""

    def __init__(self, server: SharedSocketServer, size: int, url: str) -> None:
        self.server, self.size, self.url = server, size, url
        self.workers: dict[int, int] = {}  # pid -> slot (its log file)
        self.stopping = False

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for slot in range(self.size):
            self._start(slot)
        while self.workers:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            slot = self.workers.pop(pid, -1)
            if slot < 0 or self.stopping:
                continue
            _say(f"API worker {pid} ended ({_how(status)}); starting another")
            started = time.monotonic()
            self._start(slot, again=True)
            if time.monotonic() - started < 1.0 and _how(status) != "exit 0":
                time.sleep(1.0)

    def _start(self, slot: int, again: bool = False) -> None:
        pid = os.fork()
        if pid:
            self.workers[pid] = slot
            return
        # The worker: it dies with the pool, however the pool ends, so no orphan keeps the socket.
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if slot:
            _own_log_file(slot, keep=again)
        _say(f"API worker {os.getpid()} serving on {self.url}")
        try:
            _serve(self.server)
        finally:
            os._exit(1)

    def _stop(self, signum: int, _frame: object) -> None:
        self.stopping = True
        for pid in self.workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        sys.exit(0)


def _how(status: int) -> str:
    return f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"


def _say(line: str) -> None:
    # One write per line: the first worker shares this file, and two writes could interleave.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
