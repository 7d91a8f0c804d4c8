"""The operators' admin API without AWS: Signature V4 verification as the local stack does it
(devstack/sigv4.py) for requests signed by `python -m ops`'s own signer (ops/client.py), the
admin function's actor taken only from the verified request context (chalicelib/api/admin.py),
and the local server that puts the two together (devstack/admin_api.py)."""
from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest
from botocore.credentials import Credentials

from chalicelib.api.admin import handle
from chalicelib.domain.errors import DomainError, InvalidRequest, NotFound
from chalicelib.domain.ledger import InsufficientFunds
from chalicelib.domain.operator_commands import parse
from devstack.admin_api import AdminServer
from devstack.sigv4 import Rejected, SignedRequest, authenticate
from ops.client import call, region_of, signed_request

REGION = "us-east-1"
POLICY = "arn:aws:iam::123456789012:policy/ewallet-local-operator"
KEY, SECRET = "AKIAOPERATOR0000001", "operator-secret-dev-only"
URL = "http://127.0.0.1:8005/ops"
ARN = "arn:aws:iam::123456789012:user/ann"


class FakeIam:
    def __init__(self, *, policy: bool = True) -> None:
        self.keys = {KEY: ("ann", SECRET), "AKIANOPOLICY0000001": ("bob", "bob-secret")}
        self.policy = policy

    def access_key(self, access_key_id: str) -> tuple[str, str] | None:
        return self.keys.get(access_key_id)

    def user_arn(self, user_name: str) -> str:
        return f"arn:aws:iam::123456789012:user/{user_name}"

    def has_policy(self, user_name: str, policy_arn: str) -> bool:
        return self.policy and user_name == "ann" and policy_arn == POLICY


def received(req: urllib.request.Request) -> SignedRequest:
    """What the server gets from urllib: the signed headers and the Host it adds."""
    url = urllib.parse.urlsplit(req.full_url)
    headers = [*req.header_items(), ("Host", url.netloc)]
    return SignedRequest(req.get_method(), url.netloc, url.path, tuple(headers), req.data or b"")  # type: ignore[arg-type]


def signed(body: dict[str, Any] | None = None, key: str = KEY, secret: str = SECRET, **kw: Any) -> SignedRequest:
    return received(signed_request(kw.pop("url", URL), kw.pop("command", "freeze"), body or {"user_id": "usr_1"},
                                   Credentials(key, secret), kw.pop("region", REGION)))


def verify(request: SignedRequest, iam: FakeIam | None = None, now: float | None = None) -> str:
    return authenticate(request, iam=iam or FakeIam(), region=REGION, policy_arn=POLICY, now=now).arn


# -- Signature V4 ----------------------------------------------------------------------------------
def test_a_request_signed_by_the_ops_client_is_verified_as_its_iam_user():
    assert verify(signed()) == ARN


def test_an_unsigned_request_is_rejected():
    request = signed()
    bare = SignedRequest(request.method, request.host, request.path,
                         tuple((k, v) for k, v in request.headers if k.lower() != "authorization"), request.body)
    with pytest.raises(Rejected, match="Missing Authentication Token"):
        verify(bare)


@pytest.mark.parametrize("tamper", ["body", "path", "signature", "secret"])
def test_a_bad_signature_is_rejected(tamper):
    request = signed(secret="not-the-secret") if tamper == "secret" else signed()
    if tamper == "body":  # the signed body was {"user_id": "usr_1"}
        request = SignedRequest(request.method, request.host, request.path, request.headers,
                                b'{"user_id": "usr_2"}')
    elif tamper == "path":
        request = SignedRequest(request.method, request.host, "/ops/commands/unfreeze", request.headers, request.body)
    elif tamper == "signature":
        headers = tuple((k, v[:-4] + "0000" if k.lower() == "authorization" else v) for k, v in request.headers)
        request = SignedRequest(request.method, request.host, request.path, headers, request.body)
    with pytest.raises(Rejected, match="signature"):
        verify(request)


def test_an_unknown_key_is_rejected():
    with pytest.raises(Rejected, match="security token"):
        verify(signed(key="AKIAUNKNOWN00000001"))


def test_a_user_without_the_operator_policy_is_rejected():
    with pytest.raises(Rejected, match="is not authorized to perform: execute-api:Invoke"):
        verify(signed(key="AKIANOPOLICY0000001", secret="bob-secret"))
    with pytest.raises(Rejected, match="not authorized"):
        verify(signed(), iam=FakeIam(policy=False))


@pytest.mark.parametrize("skew", [-301, 301, 3600])
def test_a_signature_more_than_five_minutes_from_now_is_rejected(skew):
    with pytest.raises(Rejected, match="expired"):
        verify(signed(), now=time.time() + skew)
    assert verify(signed(), now=time.time() + (250 if skew > 0 else -250)) == ARN  # within the window


def test_a_signature_for_another_region_or_service_is_rejected():
    with pytest.raises(Rejected, match="scoped"):
        verify(signed(region="eu-west-1"))


def test_an_unsigned_payload_is_rejected():
    request = signed()
    headers = (*request.headers, ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"))
    with pytest.raises(Rejected, match="body"):
        verify(SignedRequest(request.method, request.host, request.path, headers, request.body))


def test_the_region_of_an_api_gateway_url():
    assert region_of("https://abc123.execute-api.eu-west-1.amazonaws.com/ops") == "eu-west-1"
    assert region_of(URL) is None


# -- the admin function: who acts is what AWS verified -------------------------------------------
class FakeOperations:
    """Records what the use cases were asked (services.operations.Operations' methods used here)."""

    def __init__(self, actor: str, fail: DomainError | None = None) -> None:
        self.actor, self.fail = actor, fail
        self.calls: list[tuple[Any, ...]] = []

    def set_frozen(self, user_id: str, frozen: bool, reason: str) -> dict[str, Any]:
        self.calls.append(("set_frozen", user_id, frozen, reason))
        if self.fail:
            raise self.fail
        return {"changed": True, "audit_id": "au_1", "user_id": user_id, "status": "frozen"}

    def record(self, command: str, target: str, *, reason: str | None = None, refused: str | None = None) -> str:
        self.calls.append(("record", command, target, reason, refused))
        return "au_2"


def event(name: str, body: Any, arn: str | None = ARN, method: str = "POST") -> dict[str, Any]:
    identity = {"userArn": arn, "caller": "AIDAANN", "accessKey": KEY} if arn else {}
    return {"httpMethod": method, "pathParameters": {"name": name}, "body": json.dumps(body),
            "requestContext": {"identity": identity}}


def run(e: dict[str, Any], fail: DomainError | None = None) -> tuple[int, Any, list[FakeOperations]]:
    built: list[FakeOperations] = []

    def operations(actor: str) -> Any:
        built.append(FakeOperations(actor, fail))
        return built[-1]

    answer = handle(e, operations)
    return answer["statusCode"], json.loads(answer["body"]), built


def test_the_actor_is_the_verified_caller_and_a_body_actor_is_ignored():
    status, body, built = run(event("freeze", {"user_id": "usr_1", "reason": "fraud 4711",
                                               "actor": "arn:aws:iam::123456789012:user/someone-else"}))
    assert status == 200 and body["status"] == "frozen"
    assert [o.actor for o in built] == [ARN]
    assert built[0].calls == [("set_frozen", "usr_1", True, "fraud 4711")]


@pytest.mark.parametrize("identity", [None, "", "someone", 42])
def test_no_verified_caller_is_403_and_nothing_is_built(identity):
    e = event("freeze", {"user_id": "usr_1", "reason": "x"}, arn=None)
    e["requestContext"]["identity"] = {"userArn": identity} if identity is not None else {}
    e["body"] = json.dumps({"user_id": "usr_1", "reason": "x", "actor": ARN})  # a claimed actor changes nothing
    status, body, built = run(e)
    assert (status, body, built) == (403, {"message": "Forbidden"}, [])


@pytest.mark.parametrize("name,body,detail", [
    ("freeze", {"user_id": "usr_1"}, "reason"),
    ("freeze", {"user_id": "usr_1", "reason": "   "}, "reason"),
    ("withdrawals", {"status": "lost"}, "status"),
    ("wallet-spread", {"wallet_id": "wal_1", "shards": True, "reason": "x"}, "shards"),
    ("reverse", {"transfer_id": "tr_1", "reason": "x", "allow_negative": "yes"}, "allow_negative"),
    ("user-show", {"email": "a@example.com", "user_id": "usr_1"}, "email"),
    ("audit", {"since": "yesterday"}, "since"),
    ("drop-tables", {}, "command"),
])
def test_a_bad_command_is_400_invalid_request_before_any_use_case(name, body, detail):
    status, answer, built = run(event(name, body))
    assert status == 400 and answer["error"]["code"] == "invalid_request" and detail in answer["error"]["details"]
    assert built == []


def test_only_post_and_json_objects_are_commands():
    assert run(event("reconcile", {}, method="GET"))[0] == 400
    e = event("reconcile", {})
    e["body"] = "[1, 2"
    assert run(e)[:2] == (400, {"error": {"code": "invalid_request", "message": "The body must be a JSON object."}})


def test_a_refused_change_is_answered_with_the_apis_status_and_recorded_as_refused():
    status, body, built = run(event("freeze", {"user_id": "usr_1", "reason": "fraud"}), fail=NotFound("No such user."))
    assert (status, body["error"]["code"]) == (404, "not_found")
    assert built[0].calls[-1] == ("record", "freeze", "usr_1", "fraud", "not_found")
    status, body, _ = run(event("freeze", {"user_id": "usr_1", "reason": "x"}), fail=InsufficientFunds())
    assert (status, body["error"]["code"]) == (422, "insufficient_funds")


def test_the_since_of_an_audit_is_normalised_to_the_logs_sort_key():
    assert parse("audit", {"since": "2026-11-21T01:00:00+01:00"}).args == {"since": "2026-11-21T00:00:00.000Z"}
    with pytest.raises(InvalidRequest):
        parse("audit", {"since": "2026-11-21T00:00:00"})  # no offset: not guessed


# -- the local server: 403 before the function, the verified caller in the event -----------------
@pytest.fixture
def server():
    seen: list[dict[str, Any]] = []

    def function(e: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(e)
        return {"statusCode": 200, "body": json.dumps({"ok": True})}

    s = AdminServer(0, function, FakeIam(), REGION)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{s.server_address[1]}/ops", seen
    s.shutdown()
    s.server_close()


def test_the_local_admin_api_passes_only_verified_callers_to_the_function(server):
    url, seen = server
    ok = call(url, "freeze", {"user_id": "usr_1", "reason": "x", "actor": "forged"}, Credentials(KEY, SECRET), REGION)
    assert ok == (200, {"ok": True})
    assert seen[0]["requestContext"]["identity"]["userArn"] == ARN
    assert seen[0]["pathParameters"] == {"name": "freeze"}
    for key, secret in (("AKIAUNKNOWN00000001", "x"), (KEY, "wrong"), ("AKIANOPOLICY0000001", "bob-secret")):
        status, body = call(url, "freeze", {"user_id": "usr_1", "reason": "x"}, Credentials(key, secret), REGION)
        assert status == 403 and body["message"]
    unsigned = urllib.request.Request(url + "/commands/freeze", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=5)
    assert refused.value.code == 403
    assert len(seen) == 1  # the function never ran for a refused request
