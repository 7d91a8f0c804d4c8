"""Signature V4 verification, as API Gateway does it for a method with AWS_IAM authorization:
what the local admin API (devstack/admin_api.py) runs in place of AWS. Dev and test only; in
AWS, API Gateway verifies and this code is not deployed.

The signature is recomputed with botocore's own signer over what was received (method, path,
query, the headers the client says it signed, the body's SHA-256) with the secret of the key
the client names, and compared in constant time. The key's owner must be an IAM user with the
operator policy attached; the timestamp must be within five minutes of now, as AWS requires.
Each refusal carries API Gateway's own message for it.
"""
from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Protocol

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

SERVICE = "execute-api"
MAX_SKEW_SECONDS = 300  # AWS refuses a signature more than 5 minutes from its own clock
ALGORITHM = "AWS4-HMAC-SHA256"


class Rejected(Exception):
    """The request is not authenticated or not authorized: answered 403, nothing done."""


@dataclass(frozen=True)
class Caller:
    """Who signed, as verified."""

    arn: str
    user_name: str
    access_key_id: str


class Iam(Protocol):
    """The IAM facts verification needs (locally: moto's IAM)."""

    def access_key(self, access_key_id: str) -> tuple[str, str] | None:
        """(user name, secret key) of an active access key, or None."""

    def user_arn(self, user_name: str) -> str: ...

    def has_policy(self, user_name: str, policy_arn: str) -> bool:
        """Whether the managed policy is attached to the user or to one of the user's groups."""


@dataclass(frozen=True)
class SignedRequest:
    method: str
    host: str
    path: str  # with its query string, as received
    headers: tuple[tuple[str, str], ...]  # (name, value) as received, repeated names kept
    body: bytes

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name]


def _authorization(value: str) -> tuple[str, list[str], list[str], str]:
    """(access key id, credential scope, signed header names, signature) of an Authorization."""
    if not value.startswith(ALGORITHM + " "):
        raise Rejected("Missing Authentication Token")
    parts = dict(p.strip().partition("=")[::2] for p in value[len(ALGORITHM) + 1:].split(","))
    credential, signed, signature = parts.get("Credential"), parts.get("SignedHeaders"), parts.get("Signature")
    if not credential or not signed or not signature:
        raise Rejected("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'.")
    access_key_id, _, scope = credential.partition("/")
    return access_key_id, scope.split("/"), signed.split(";"), signature


def _timestamp(request: SignedRequest, now: float) -> str:
    dates = request.values("x-amz-date")
    if len(dates) != 1:
        raise Rejected("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    try:
        signed_at = calendar.timegm(time.strptime(dates[0], SIGV4_TIMESTAMP))
    except ValueError:
        raise Rejected("Signature expired or not yet valid: the X-Amz-Date is not a time.") from None
    if abs(now - signed_at) > MAX_SKEW_SECONDS:
        raise Rejected("Signature expired: the request was signed more than 5 minutes from now.")
    return dates[0]


def _expected_signature(request: SignedRequest, signed: list[str], timestamp: str, access_key_id: str, secret: str,
                        region: str) -> tuple[str, str]:
    """botocore's signer over exactly the signed headers and the body received: (signature,
    the SignedHeaders it computed)."""
    headers = HTTPHeaders()
    for name in signed:
        for value in request.values(name):
            headers[name] = value
    # http: botocore then always hashes the body (over https it might sign UNSIGNED-PAYLOAD);
    # the scheme is not part of what is signed.
    aws = AWSRequest(method=request.method, url=f"http://{request.host}{request.path}", headers=headers,
                     data=request.body)
    aws.context["timestamp"] = timestamp
    signer = SigV4Auth(Credentials(access_key_id, secret), SERVICE, region)
    canonical = signer.canonical_request(aws)
    return signer.signature(signer.string_to_sign(aws, canonical), aws), signer.signed_headers(
        signer.headers_to_sign(aws))


def authenticate(request: SignedRequest, *, iam: Iam, region: str, policy_arn: str,
                 now: float | None = None) -> Caller:
    """The verified caller, or Rejected (with API Gateway's message for the failure)."""
    auth = request.values("authorization")
    if len(auth) != 1:
        raise Rejected("Missing Authentication Token")
    access_key_id, scope, signed, signature = _authorization(auth[0])
    timestamp = _timestamp(request, time.time() if now is None else now)
    if scope != [timestamp[:8], region, SERVICE, "aws4_request"]:
        raise Rejected("Credential should be scoped to a valid date, this region and execute-api.")
    if {"host", "x-amz-date"} - set(signed) or any(not request.values(name) for name in signed):
        raise Rejected("The request signature does not cover the host and the date, or names absent headers.")
    if request.values("x-amz-security-token"):
        raise Rejected("The security token included in the request is invalid.")  # no temporary keys locally
    body_hash = hashlib.sha256(request.body).hexdigest()
    if any(v != body_hash for v in request.values("x-amz-content-sha256")):
        raise Rejected("The request body is not the one that was signed.")  # UNSIGNED-PAYLOAD included
    key = iam.access_key(access_key_id)
    if key is None:
        raise Rejected("The security token included in the request is invalid.")
    user_name, secret = key
    expected, expected_signed = _expected_signature(request, signed, timestamp, access_key_id, secret, region)
    if not hmac.compare_digest(expected.encode(), signature.encode()) or expected_signed != ";".join(signed):
        raise Rejected("The request signature we calculated does not match the signature you provided.")
    arn = iam.user_arn(user_name)
    if not iam.has_policy(user_name, policy_arn):
        raise Rejected(f"User: {arn} is not authorized to perform: execute-api:Invoke")
    return Caller(arn=arn, user_name=user_name, access_key_id=access_key_id)
