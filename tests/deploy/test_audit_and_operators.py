"""The operators' audit log: only the admin function reads it and appends to it, nobody can
change or delete a record, and the operators' own policy gives them only the admin API."""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from chalicelib.adapters.dynamodb.models import ALL_MODELS, AuditRecord
from deploy.template import ADMIN_ROUTE, FUNCTIONS, LOGICAL, stage_settings, table_logical_id

PREFIX = stage_settings("prod").table_prefix
# The audit table (and anything under it) as IAM would see it in a real account and region.
AUDIT = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{PREFIX}{AuditRecord.table}"
AUDIT_ARNS = [AUDIT, f"{AUDIT}/index/any", f"{AUDIT}/stream/2026-01-01T00:00:00.000"]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _reaches_audit(statement: dict[str, Any]) -> bool:
    """An Allow of any DynamoDB action on a resource pattern that matches the audit table."""
    if statement["Effect"] != "Allow" or not any(a.startswith("dynamodb:") for a in _list(statement["Action"])):
        return False
    return any(isinstance(r, str) and fnmatchcase(arn, r) for r in _list(statement["Resource"]) for arn in AUDIT_ARNS)


def test_only_the_admin_function_reaches_the_audit_table_and_only_to_append_and_read(package):
    _, t = package
    r = t["Resources"]
    for fn in FUNCTIONS:
        role = r[r[LOGICAL[fn]]["Properties"]["Role"]["Fn::GetAtt"][0]]
        for policy in role["Properties"]["Policies"]:
            reaching = [s for s in policy["PolicyDocument"]["Statement"] if _reaches_audit(s)]
            if fn == "admin":
                assert reaching and {a for s in reaching for a in _list(s["Action"])} == {
                    "dynamodb:PutItem", "dynamodb:Query"}
                assert all(not any(fnmatchcase(f"{AUDIT}/index/any", p) for p in _list(s["Resource"]))
                           for s in reaching)
            else:
                assert not reaching, (fn, reaching)
        assert "ManagedPolicyArns" not in role["Properties"], fn  # nothing granted out of sight
    assert AuditRecord in ALL_MODELS  # the table exists, and is deployed like every other
    assert r[table_logical_id(AuditRecord)]["Properties"]["TableName"] == f"{PREFIX}audit"


def test_the_audit_table_denies_every_change_and_deletion_to_everyone(package):
    _, t = package
    props = t["Resources"][table_logical_id(AuditRecord)]["Properties"]
    statements = props["ResourcePolicy"]["PolicyDocument"]["Statement"]
    assert all(s["Effect"] == "Deny" for s in statements)  # it only ever takes away
    denied = {a for s in statements if s["Principal"] == "*" and "Condition" not in s for a in _list(s["Action"])}
    assert denied >= {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                      "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete", "dynamodb:DeleteTable"}
    assert "dynamodb:PutItem" not in denied  # records are still appended...
    # ...but only by the admin function's role, whatever anyone else's policy says.
    puts = [s for s in statements if s["Action"] == ["dynamodb:PutItem"]]
    assert puts and puts[0]["Principal"] == "*" and puts[0]["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": [r_admin_role(t), "Arn"]}}}
    for s in statements:
        assert s["Resource"]["Fn::Sub"].endswith(f":table/{PREFIX}audit")
    assert props["DeletionProtectionEnabled"] is True and props["PointInTimeRecoverySpecification"]


def r_admin_role(t: dict[str, Any]) -> str:
    return str(t["Resources"][LOGICAL["admin"]]["Properties"]["Role"]["Fn::GetAtt"][0])


def test_the_operator_policy_gives_only_the_admin_api(package):
    _, t = package
    r = t["Resources"]
    assert r["OperatorPolicy"]["Type"] == "AWS::IAM::ManagedPolicy"
    assert t["Outputs"]["OperatorPolicyArn"]["Value"] == {"Ref": "OperatorPolicy"}
    statements = r["OperatorPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    # No table, no secret, no key: one Allow of execute-api:Invoke on the admin API's one route.
    assert statements == [{"Sid": "InvokeTheAdminApi", "Effect": "Allow", "Action": "execute-api:Invoke",
                           "Resource": {"Fn::Sub": ADMIN_ROUTE}}]
    assert "${AdminApi}/ops/POST/commands/*" in ADMIN_ROUTE
