"""The web wallet, served locally: a folder built and published by deploy/web.py, with the
response headers CloudFront adds in AWS; and, like CloudFront's `/api/*` behaviour, the API under
the page's own origin (`WEB_URL/api/...` is `API_URL/...`: method, headers, body and status
passed through, Set-Cookie included), so the page needs no CORS and its refresh cookie is
first-party (chalicelib/api/refresh_cookie.py).

`python -m devstack.web_server --port P --root DIR --api-url URL`
"""
from __future__ import annotations

import argparse
import http.client
import json
import urllib.parse
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chalicelib.api.refresh_cookie import WEB_API_PREFIX
from deploy.web import security_headers

# Meant for one connection only (RFC 9110 7.6.1), or recomputed here (the length).
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length"}


def api_path(path: str) -> str | None:
    """The API's path for a path of the web origin, or None if it is one of the page's files."""
    if path == WEB_API_PREFIX or path.startswith(WEB_API_PREFIX + "/") or path.startswith(WEB_API_PREFIX + "?"):
        rest = path[len(WEB_API_PREFIX):]
        return rest if rest.startswith("/") else "/" + rest
    return None


class WebHandler(SimpleHTTPRequestHandler):
    api: urllib.parse.SplitResult | None = None  # where /api/* goes (set by `main`)
    _proxied = False

    def end_headers(self) -> None:
        if not self._proxied:  # the API's answers keep the API's own headers, as behind CloudFront
            for name, value in security_headers().items():
                self.send_header(name, value)
            self.send_header("Cache-Control", "no-store")  # development: always the latest build
        super().end_headers()

    def __getattr__(self, name: str) -> Any:
        # Every method reaches the API (TRACE and unknown ones too: it answers 405 itself); the
        # page's files keep the base handler's GET and HEAD.
        if name.startswith("do_") and name[3:].isalpha() and name[3:].isupper():
            return self._any_method
        raise AttributeError(name)

    def _any_method(self) -> None:
        target = api_path(self.path)
        if target is not None:
            self._proxy(target)
        elif self.command in ("GET", "HEAD"):
            getattr(super(), f"do_{self.command}")()
        else:
            self.send_error(405, "The web wallet's files are read only")

    def do_GET(self) -> None:
        self._any_method()

    def do_HEAD(self) -> None:
        self._any_method()

    def _proxy(self, path: str) -> None:
        assert self.api is not None
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        connection = http.client.HTTPConnection(self.api.hostname or "127.0.0.1", self.api.port, timeout=60)
        self._proxied = True
        try:
            connection.request(self.command, self.api.path.rstrip("/") + path, body=body, headers=headers)
            answer = connection.getresponse()
            content = answer.read()
        except OSError:
            content = json.dumps({"error": {"code": "bad_gateway", "message": "The API did not answer."}}).encode()
            self.send_response(502)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
            return
        finally:
            connection.close()
        self.send_response(answer.status, answer.reason)
        for name, value in answer.getheaders():  # a list: every Set-Cookie stays its own header
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # nothing worth logging: a static folder, and the API logs its own requests


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--api-url", required=True, help=f"where {WEB_API_PREFIX}/* goes (the local API)")
    args = p.parse_args()
    handler = type("Handler", (WebHandler,), {"api": urllib.parse.urlsplit(args.api_url)})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), partial(handler, directory=args.root))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
