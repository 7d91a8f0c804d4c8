"""The web wallet, served locally: a folder built and published by deploy/web.py, with the
response headers CloudFront adds in AWS.

`python -m devstack.web_server --port P --root DIR`
"""
from __future__ import annotations

import argparse
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from deploy.web import security_headers


class WebHandler(SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        for name, value in security_headers().items():
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-store")  # development: always the latest build
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # nothing worth logging: a static folder


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--root", required=True)
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), partial(WebHandler, directory=args.root))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
