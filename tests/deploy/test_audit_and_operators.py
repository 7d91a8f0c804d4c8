"""The operators' audit log: no function can touch it, nobody can change or delete a record,
and the operators' own policy gives them exactly what `python -m ops` does."""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from chalicelib.adapters.dynamodb.models import ALL_MODELS, AuditRecord
from deploy.template import FUNCTIONS, LOGICAL, secrets_of, stage_settings, table_logical_id

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


def test_no_function_has_any_permission_on_the_audit_table(package):
    _, t = package
    r = t["Resources"]
    for fn in FUNCTIONS:
        role = r[r[LOGICAL[fn]]["Properties"]["Role"]["Fn::GetAtt"][0]]
        for policy in role["Properties"]["Policies"]:
            reaching = [s for s in policy["PolicyDocument"]["Statement"] if _reaches_audit(s)]
            assert not reaching, (fn, reaching)
        assert "ManagedPolicyArns" not in role["Properties"], fn  # nothing granted out of sight
    assert AuditRecord in ALL_MODELS  # the table exists, and is deployed like every other
    assert r[table_logical_id(AuditRecord)]["Properties"]["TableName"] == f"{PREFIX}audit"


def test_the_audit_table_denies_every_change_and_deletion_to_everyone(package):
    _, t = package
    props = t["Resources"][table_logical_id(AuditRecord)]["Properties"]
    statements = props["ResourcePolicy"]["PolicyDocument"]["Statement"]
    assert all(s["Effect"] == "Deny" for s in statements)  # it only ever takes away
    denied = {a for s in statements if s["Principal"] == "*" for a in _list(s["Action"])}
    assert denied >= {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                      "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete", "dynamodb:DeleteTable"}
    assert "dynamodb:PutItem" not in denied  # records are still appended
    for s in statements:
        assert s["Resource"]["Fn::Sub"].endswith(f":table/{PREFIX}audit")
    assert props["DeletionProtectionEnabled"] is True and props["PointInTimeRecoverySpecification"]


def test_the_operator_policy_gives_exactly_what_the_ops_tool_needs(package):
    _, t = package
    r = t["Resources"]
    assert r["OperatorPolicy"]["Type"] == "AWS::IAM::ManagedPolicy"
    assert t["Outputs"]["OperatorPolicyArn"]["Value"] == {"Ref": "OperatorPolicy"}
    statements = r["OperatorPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert all(s["Effect"] == "Allow" for s in statements)
    dynamo = [s for s in statements if all(a.startswith("dynamodb:") for a in _list(s["Action"]))]
    others = [s for s in statements if s not in dynamo]
    assert others == secrets_of("prod")  # the stage's secrets through SSM, and nothing else

    def actions_on(arn: str) -> set[str]:
        return {a for s in dynamo for a in _list(s["Action"]) if any(fnmatchcase(arn, p) for p in s["Resource"])}

    assert actions_on(AUDIT) == {"dynamodb:PutItem", "dynamodb:Query"}
    assert actions_on(f"{AUDIT}/index/any") == set()
    read_write = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
                  "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem",
                  "dynamodb:TransactWriteItems", "dynamodb:TransactGetItems"}
    for model in ALL_MODELS:
        if model is not AuditRecord:
            arn = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{PREFIX}{model.table}"
            assert actions_on(arn) == read_write, model.table
            assert actions_on(f"{arn}/index/any") == read_write, model.table
    assert actions_on(f"arn:aws:dynamodb:eu-west-1:123456789012:table/{PREFIX}not-ours") == set()
