"""The web wallet, served locally: the built static files plus `config.json` for this stack,
with the same security headers as in AWS (deploy/web.py).

`python -m devstack.web_server --port P --root DIR --config JSON --csp CSP`
"""
from __future__ import annotations

import argparse
import json
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from deploy.web import security_headers


class WebHandler(SimpleHTTPRequestHandler):
    config: bytes = b"{}"
    headers_out: dict[str, str] = {}

    def end_headers(self) -> None:
        for name, value in self.headers_out.items():
            self.send_header(name, value)
        # Development: always the latest build, never a stale copy.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/config.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.config)))
            self.end_headers()
            self.wfile.write(self.config)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the page's requests carry no secret, but there is nothing worth logging either


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--config", required=True, help="the config.json content")
    p.add_argument("--csp", required=True)
    args = p.parse_args()
    handler = type("Handler", (WebHandler,), {"config": json.dumps(json.loads(args.config)).encode(),
                                              "headers_out": security_headers(args.csp)})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), partial(handler, directory=args.root))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
