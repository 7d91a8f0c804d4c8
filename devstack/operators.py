"""The local stack's operator: an IAM user of the local moto server with the operator policy
attached and an access key, whose keys go to `.local/operator.env` for `python -m ops`; and the
IAM look-ups the local admin API verifies signatures with (devstack/admin_api.py).

Dev-only: moto's IAM is the local stand-in for the account's IAM; its keys sign only requests to
the local stack.
"""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import boto3

ACCOUNT = "123456789012"  # moto's default account (devstack.stack.ACCOUNT)
OPERATOR_USER = "ops-local"
OPERATOR_POLICY = "ewallet-local-operator"
POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/{OPERATOR_POLICY}"
# The local admin API's ARN, as execute-api:Invoke names it (id "local-admin", stage "ops").
ADMIN_API_ARN = "arn:aws:execute-api:{region}:" + ACCOUNT + ":local-admin/ops/POST/commands/*"
ENV_FILE = "operator.env"


def iam_client(env: dict[str, str]) -> Any:
    """moto's IAM, with the stack's dev-only credentials (moto does not check them)."""
    return boto3.client("iam", endpoint_url=env["AWS_ENDPOINT"], region_name=env["AWS_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def create_operator(env: dict[str, str], state_dir: Path) -> str:
    """The operator user with the operator policy (the template's, for the local admin API) and
    a fresh access key, written to `<state_dir>/operator.env`; the user's ARN."""
    from deploy.template import operator_policy

    iam = iam_client(env)
    document = operator_policy(ADMIN_API_ARN.format(region=env["AWS_REGION"]))
    made = iam.create_policy(PolicyName=OPERATOR_POLICY, PolicyDocument=json.dumps(document),
                             Description="What the people who run `python -m ops` need: invoke the admin API")
    if made["Policy"]["Arn"] != POLICY_ARN:  # the admin API checks for this very ARN
        raise RuntimeError(f"moto named the operator policy {made['Policy']['Arn']}, not {POLICY_ARN}")
    user = iam.create_user(UserName=OPERATOR_USER)["User"]
    iam.attach_user_policy(UserName=OPERATOR_USER, PolicyArn=POLICY_ARN)
    key = iam.create_access_key(UserName=OPERATOR_USER)["AccessKey"]
    path = state_dir / ENV_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text("# Written by the local stack: the local operator's keys (moto IAM). Dev-only.\n"
                   f"AWS_ACCESS_KEY_ID={key['AccessKeyId']}\nAWS_SECRET_ACCESS_KEY={key['SecretAccessKey']}\n")
    tmp.chmod(0o600)
    tmp.replace(path)
    return str(user["Arn"])


def read_operator_env(state_dir: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in (state_dir / ENV_FILE).read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key] = value
    return env


class MotoIam:
    """devstack.sigv4.Iam over the local moto server. IAM never gives a secret key back, so the
    secret comes from moto's own record of its objects (`/moto-api/data.json`, which keeps
    deleted keys too); whether the key is still active, whose it is and what is attached come
    from the IAM API itself, on every request."""

    def __init__(self, env: dict[str, str]) -> None:
        self.endpoint = env["AWS_ENDPOINT"]
        self.iam = iam_client(env)
        self._secrets: dict[str, tuple[str, str]] = {}  # a key's owner and secret never change

    def _recorded(self, access_key_id: str) -> tuple[str, str] | None:
        if access_key_id not in self._secrets:
            with urllib.request.urlopen(self.endpoint + "/moto-api/data.json", timeout=10) as r:
                keys = json.loads(r.read()).get("iam", {}).get("AccessKey", [])
            for k in keys:
                if k.get("access_key_id") and k.get("user_name") and k.get("secret_access_key"):
                    self._secrets[k["access_key_id"]] = (k["user_name"], k["secret_access_key"])
        return self._secrets.get(access_key_id)

    def access_key(self, access_key_id: str) -> tuple[str, str] | None:
        recorded = self._recorded(access_key_id)
        if recorded is None:
            return None
        user_name, _ = recorded
        try:
            listed = self.iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]
        except self.iam.exceptions.NoSuchEntityException:
            return None  # the user is gone, and its keys with it
        active = any(k["AccessKeyId"] == access_key_id and k["Status"] == "Active" for k in listed)
        return recorded if active else None

    def user_arn(self, user_name: str) -> str:
        return str(self.iam.get_user(UserName=user_name)["User"]["Arn"])

    def has_policy(self, user_name: str, policy_arn: str) -> bool:
        attached = [p["PolicyArn"] for p in self.iam.list_attached_user_policies(UserName=user_name)[
            "AttachedPolicies"]]
        for group in self.iam.list_groups_for_user(UserName=user_name)["Groups"]:
            attached += [p["PolicyArn"] for p in self.iam.list_attached_group_policies(
                GroupName=group["GroupName"])["AttachedPolicies"]]
        return policy_arn in attached
