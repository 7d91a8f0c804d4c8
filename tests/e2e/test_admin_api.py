"""The admin API over HTTP against the local stack (devstack/admin_api.py): every documented
command works through it with the audit's actor = the IAM user that signed, and a forged call
(unsigned, badly signed, an unknown key, a user without the operator policy, a stale signature)
gets 403 and changes nothing."""
from __future__ import annotations

import datetime
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.credentials import Credentials

from chalicelib.domain.ids import rfc3339
from devstack.operators import OPERATOR_USER, POLICY_ARN, read_operator_env
from ops.client import call, signed_request
from tests.e2e.test_ledger import default_wallet

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def iam(stack):
    from devstack.operators import iam_client

    return iam_client(stack)


@pytest.fixture(scope="module")
def operator(stack, iam) -> tuple[Credentials, str]:
    keys = read_operator_env(Path(stack["STACK_DIR"]))
    return Credentials(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"]), iam.get_user(
        UserName=OPERATOR_USER)["User"]["Arn"]


def ops(stack, *args: str) -> tuple[int, Any]:
    out = subprocess.run([sys.executable, "-m", "ops", "--stack-dir", stack["STACK_DIR"], *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    return out.returncode, json.loads(out.stdout)


def audit_of(stack, since: str, target: str) -> list[dict[str, Any]]:
    code, answer = ops(stack, "audit", "--since", since)
    assert code == 0, answer
    return [i for i in answer["items"] if i["target"] == target]


def test_the_stack_has_an_operator_user_with_the_operator_policy(stack, iam, operator):
    assert operator[1] == "arn:aws:iam::123456789012:user/ops-local"
    assert stack["ADMIN_URL"].endswith("/ops")
    attached = iam.list_attached_user_policies(UserName=OPERATOR_USER)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [POLICY_ARN]
    document = iam.get_policy_version(PolicyArn=POLICY_ARN, VersionId="v1")["PolicyVersion"]["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    assert [s["Action"] for s in document["Statement"]] == ["execute-api:Invoke"]  # nothing else
    assert (Path(stack["STACK_DIR"]) / "operator.env").stat().st_mode & 0o077 == 0


def test_every_command_acts_as_the_iam_user_that_signed(stack, new_user, fund, operator, stack_container):
    _, arn = operator
    since = rfc3339(time.time() - 1)
    ann = new_user()
    wallet = default_wallet(ann)["wallet_id"]
    user_id = ann.user["user_id"]
    code, shown = ops(stack, "user", "show", "--user-id", user_id)
    assert code == 0 and shown["user"]["user_id"] == user_id and shown["wallets"][0]["wallet_id"] == wallet
    code, spread = ops(stack, "wallet", "spread", "--wallet-id", wallet, "--shards", "2", "--reason", "merchant 12")
    assert code == 0 and spread == {"changed": True, "audit_id": spread["audit_id"], "wallet_id": wallet,
                                    "credit_shards": 2}
    fund(wallet, 500)  # a high-volume wallet still takes money, on its shards
    assert ann.api.request("GET", f"/wallets/{wallet}").json()["balance"] == 500
    # A body that names someone else: the command runs as the signer, the claim is ignored.
    status, frozen = call(stack["ADMIN_URL"], "freeze", {"user_id": user_id, "reason": "ticket 9",
                                                         "actor": "arn:aws:iam::123456789012:user/mallory"},
                          operator[0], stack["AWS_REGION"])
    assert status == 200 and frozen["changed"] is True
    records = audit_of(stack, since, user_id) + audit_of(stack, since, wallet)
    assert {(r["command"], r["outcome"]) for r in records} >= {("user show", "read"), ("freeze", "done"),
                                                               ("wallet spread", "done")}
    assert {r["actor"] for r in records} == {arn}
    code, unfrozen = ops(stack, "unfreeze", "--user-id", user_id, "--reason", "cleared")
    assert code == 0 and unfrozen["changed"] is True
    code, listed = ops(stack, "withdrawals", "--status", "paid")
    assert code == 0 and isinstance(listed["items"], list)


def _skewed_signature(stack, operator, body: dict[str, Any], monkeypatch) -> requests.Response:
    import botocore.auth

    then = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=6)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: then)
    req = signed_request(stack["ADMIN_URL"], "freeze", body, operator[0], stack["AWS_REGION"])
    monkeypatch.undo()
    return requests.post(req.full_url, data=req.data, headers=dict(req.header_items()), timeout=10)


def test_a_forged_call_gets_403_and_changes_nothing(stack, iam, new_user, operator, stack_container, monkeypatch):
    since = rfc3339(time.time() - 1)
    ann = new_user()
    user_id = ann.user["user_id"]
    body = {"user_id": user_id, "reason": "forged", "actor": operator[1]}
    url = stack["ADMIN_URL"] + "/commands/freeze"
    # A real IAM user with a key, but without the operator policy.
    iam.create_user(UserName="intruder")
    intruder = iam.create_access_key(UserName="intruder")["AccessKey"]
    good = signed_request(stack["ADMIN_URL"], "freeze", body, operator[0], stack["AWS_REGION"])
    tampered = {**dict(good.header_items())}
    tampered["Authorization"] = tampered["Authorization"][:-6] + "abcdef"

    def post(headers: dict[str, str], data: bytes | None = None) -> requests.Response:
        return requests.post(url, data=data if data is not None else good.data, headers=headers, timeout=10)

    answers = {
        "unsigned": post({"Content-Type": "application/json"}),
        "bad signature": post(tampered),
        "other body": post(dict(good.header_items()), json.dumps({**body, "reason": "other"}).encode()),
        "unknown key": requests.post(*_prepared(stack, body, Credentials("AKIAUNKNOWNKEY000000", "x"))),
        "no policy": requests.post(*_prepared(stack, body, Credentials(intruder["AccessKeyId"],
                                                                        intruder["SecretAccessKey"]))),
        "stale": _skewed_signature(stack, operator, body, monkeypatch),
        "wrong method": requests.get(url, timeout=10),
    }
    for what, r in answers.items():
        assert r.status_code == 403, (what, r.text)
        assert set(r.json()) == {"message"}, what  # API Gateway's own refusal: the function never ran
    assert stack_container.users.get(user_id).status == "active"
    assert audit_of(stack, since, user_id) == []  # nothing done, nothing recorded


def _prepared(stack, body: dict[str, Any], credentials: Credentials) -> tuple[str, bytes, dict[str, str]]:
    req = signed_request(stack["ADMIN_URL"], "freeze", body, credentials, stack["AWS_REGION"])
    assert req.data is not None
    return req.full_url, req.data, dict(req.header_items())  # type: ignore[return-value]
