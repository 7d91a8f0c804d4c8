"""Sending one command to the admin API, signed with the operator's own credentials
(Signature V4, botocore's signer, service `execute-api`): API Gateway verifies the signature and
the operator's `execute-api:Invoke` before the admin function runs, and the function records
the ARN it verified as the command's actor (docs/operations.md)."""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SERVICE = "execute-api"
TIMEOUT = 60  # reconcile reads the whole ledger and asks Stripe: a person waits for it
_REGION_IN_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


def region_of(url: str) -> str | None:
    """The region of an API Gateway URL (https://<id>.execute-api.<region>.amazonaws.com/...)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    found = _REGION_IN_HOST.match(host)
    return found.group(1) if found else None


def signed_request(admin_url: str, command: str, args: dict[str, Any], credentials: Credentials,
                   region: str) -> urllib.request.Request:
    url = f"{admin_url.rstrip('/')}/commands/{command}"
    body = json.dumps(args, sort_keys=True).encode()
    aws = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(credentials, SERVICE, region).add_auth(aws)
    return urllib.request.Request(url, data=body, headers=dict(aws.headers.items()), method="POST")


def call(admin_url: str, command: str, args: dict[str, Any], credentials: Credentials,
         region: str) -> tuple[int, Any]:
    """(HTTP status, JSON answer) of one command. A refusal by API Gateway itself (403 for a
    bad or missing signature or a caller without the operator policy) is `{"message": ...}`;
    the function's own errors are `{"error": {"code", "message"}}`."""
    request = signed_request(admin_url, command, args, credentials, region)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, {"message": raw.decode(errors="replace")[:200]}
