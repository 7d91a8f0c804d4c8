"""The admin API, served locally as API Gateway serves it in AWS (deploy/template.py,
`admin_api`): `POST <ADMIN_URL>/commands/{name}` with AWS_IAM authorization, proxied to the
app's own `admin` function (app.py) with the verified caller in `requestContext.identity`.

Authorization is Signature V4 against the IAM users of the local moto server (devstack/sigv4.py,
devstack/operators.py): an unsigned or badly signed request, an unknown or inactive key, a
signature older than five minutes, or a user without the operator policy get 403 with API
Gateway's `{"message": ...}` body, and the function never runs. Other paths and methods get
API Gateway's 403 "Missing Authentication Token", as a resource or method it does not have.

`python -m devstack.admin_api --port P` (the stack's environment in its own).
"""
from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devstack.operators import ACCOUNT, POLICY_ARN, MotoIam
from devstack.sigv4 import Caller, Rejected, SignedRequest, authenticate

log = logging.getLogger("admin_api")
STAGE = "ops"  # like the admin API's stage in AWS: ADMIN_URL ends with it
ROUTE = re.compile(rf"^/{STAGE}/commands/([a-z][a-z-]{{0,40}})$")
MAX_BODY = 1024 * 1024


class LambdaContext:
    function_name = "admin"
    aws_request_id = ""

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def proxy_event(method: str, path: str, name: str, headers: dict[str, str], body: bytes, caller: Caller,
                source_ip: str) -> dict[str, Any]:
    """API Gateway's Lambda proxy event for the admin route, as AWS_IAM authorization fills it."""
    try:
        text, encoded = body.decode(), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    identity = {"userArn": caller.arn, "user": caller.user_name, "caller": caller.user_name,
                "accessKey": caller.access_key_id, "accountId": ACCOUNT, "sourceIp": source_ip}
    return {"resource": "/commands/{name}", "path": path, "httpMethod": method, "headers": headers,
            "queryStringParameters": None, "pathParameters": {"name": name}, "body": text,
            "isBase64Encoded": encoded,
            "requestContext": {"resourcePath": "/commands/{name}", "httpMethod": method, "stage": STAGE,
                               "requestId": str(uuid.uuid4()), "identity": identity}}


class AdminHandler(BaseHTTPRequestHandler):
    server: AdminServer

    def _answer(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._answer(413, json.dumps({"message": "Request Too Long"}))
            return
        body = self.rfile.read(length) if length else b""
        route = ROUTE.match(self.path.split("?", 1)[0])
        if route is None or self.command != "POST":
            self._answer(403, json.dumps({"message": "Missing Authentication Token"}))
            return
        request = SignedRequest(self.command, self.headers.get("Host", ""), self.path,
                                tuple((k, v) for k, v in self.headers.items()), body)
        try:
            caller = authenticate(request, iam=self.server.iam, region=self.server.region, policy_arn=POLICY_ARN)
        except Rejected as refused:
            self._answer(403, json.dumps({"message": str(refused)}))
            return
        event = proxy_event(self.command, self.path, route.group(1), dict(self.headers.items()), body, caller,
                            self.client_address[0])
        with self.server.lock:  # one command at a time, as one Lambda container runs them
            answer = self.server.function(event, LambdaContext())
        self._answer(int(answer["statusCode"]), str(answer["body"]))

    def __getattr__(self, name: str) -> Any:
        # Every method reaches _handle, which answers what API Gateway would (403 for all but POST).
        if name.startswith("do_") and name[3:].isalpha() and name[3:].isupper():
            return self._handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the function logs each command; a request line holds nothing more


class AdminServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, function: Any, iam: Any, region: str) -> None:
        super().__init__(("127.0.0.1", port), AdminHandler)
        self.function, self.iam, self.region = function, iam, region
        self.lock = threading.Lock()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    import app as chalice_app  # the stage's environment is this process's own

    env = dict(os.environ)
    server = AdminServer(args.port, chalice_app.admin, MotoIam(env), env["AWS_REGION"])
    print(f"admin API serving on http://127.0.0.1:{args.port}/{STAGE}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
