"""The operators' admin API in the template: AWS_IAM only, its own function with its own least
privilege, and direct data access only through a break-glass role that CloudTrail records and
an alarm reports (docs/operations.md)."""
from __future__ import annotations

from typing import Any

from deploy.template import ADMIN_STAGE, FUNCTIONS, LOGICAL, policies, role_logical_id, secrets_of, stage_settings

PREFIX = stage_settings("prod").table_prefix


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_admin_api_takes_only_signed_requests_and_hands_them_to_the_admin_function(package):
    _, t = package
    r = t["Resources"]
    methods = [v["Properties"] for v in r.values() if v["Type"] == "AWS::ApiGateway::Method"
               and v["Properties"]["RestApiId"] == {"Ref": "AdminApi"}]
    assert len(methods) == 1  # one route, one method: nothing else on this API can be called
    method = methods[0]
    assert (method["HttpMethod"], method["AuthorizationType"]) == ("POST", "AWS_IAM")
    assert method["Integration"]["Type"] == "AWS_PROXY"
    assert "${Admin.Arn}" in method["Integration"]["Uri"]["Fn::Sub"]
    assert r["AdminApiCommand"]["Properties"]["PathPart"] == "{name}"
    assert r["AdminApiCommands"]["Properties"]["PathPart"] == "commands"
    stage = r["AdminApiStage"]["Properties"]
    assert stage["StageName"] == ADMIN_STAGE and stage["TracingEnabled"] is True
    assert '"caller":"$context.identity.userArn"' in stage["AccessLogSetting"]["Format"]  # who, even when refused
    assert stage["MethodSettings"][0]["ThrottlingRateLimit"] <= 10
    permission = r["AdminApiInvokesAdmin"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "Admin"} and permission["Principal"] == "apigateway.amazonaws.com"
    assert permission["SourceArn"]["Fn::Sub"].endswith("${AdminApi}/*/POST/commands/*")
    assert t["Outputs"]["AdminUrl"]["Value"]["Fn::Sub"].endswith("/" + ADMIN_STAGE)


def test_the_admin_function_is_hardened_like_the_others(package):
    _, t = package
    r = t["Resources"]
    admin = r[LOGICAL["admin"]]["Properties"]
    assert admin["Handler"] == "app.admin"
    assert admin["ReservedConcurrentExecutions"] >= 1 and admin["KmsKeyArn"]
    assert r["AdminLogGroup"]["Properties"]["RetentionInDays"] >= 365
    skipped = {s["id"] for s in r[LOGICAL["admin"]]["Metadata"]["checkov"]["skip"]}
    assert {"CKV_AWS_116", "CKV_AWS_117"} <= skipped  # synchronous: no event to keep in a DLQ
    # Chalice names each function's role as role_logical_id does (the trail's selectors use it).
    for fn in FUNCTIONS:
        assert r[LOGICAL[fn]]["Properties"]["Role"] == {"Fn::GetAtt": [role_logical_id(fn), "Arn"]}


def test_the_admin_function_reads_only_the_secrets_its_commands_use_and_never_deletes():
    statements = policies("prod")["admin"]["Statement"]
    # The ledger key: `ops verify-ledger` checks each checkpoint's signature (docs/statements.md).
    assert [s for s in statements if s.get("Action") == ["ssm:GetParameter"]] == secrets_of(
        "prod", "DATA_KEY", "BLIND_INDEX_KEY", "STRIPE_API_KEY", "LEDGER_SIGNING_KEY")[:1]
    actions = {a for s in statements for a in _list(s["Action"])}
    assert not {"dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteTable"} & actions


def test_direct_data_access_is_a_break_glass_role_assumed_with_mfa(package):
    _, t = package
    role = t["Resources"]["BreakGlassRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert len(trust) == 1 and trust[0]["Condition"]["Bool"] == {"aws:MultiFactorAuthPresent": "true"}
    assert trust[0]["Principal"]["AWS"]["Fn::Sub"].endswith(":root")  # this account only
    assert role["MaxSessionDuration"] <= 3600
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    audit = [s for s in statements if s.get("Sid") == "ReadTheAudit"]
    assert audit and audit[0]["Action"] == ["dynamodb:Query"]  # it reads the audit, never writes it
    assert t["Outputs"]["BreakGlassRoleArn"]["Value"] == {"Fn::GetAtt": ["BreakGlassRole", "Arn"]}


def test_cloudtrail_records_item_level_access_by_anyone_but_the_apps_functions(package):
    _, t = package
    r = t["Resources"]
    trail = r["AuditTrail"]["Properties"]
    assert trail["IsLogging"] and trail["IsMultiRegionTrail"] and trail["EnableLogFileValidation"]
    assert trail["KMSKeyId"] == {"Fn::GetAtt": ["TrailKey", "Arn"]}
    assert trail["CloudWatchLogsLogGroupArn"] == {"Fn::GetAtt": ["TrailLogs", "Arn"]}
    selectors = {s["Name"]: {f["Field"]: f for f in s["FieldSelectors"]} for s in trail["AdvancedEventSelectors"]}
    management = [s for s in selectors.values() if s["eventCategory"]["Equals"] == ["Management"]]
    assert management and len(management[0]) == 1  # all of them: AssumeRole, GetParameter, Decrypt
    data = [s for s in selectors.values() if s["eventCategory"]["Equals"] == ["Data"]]
    assert len(data) == 1
    fields = data[0]
    assert fields["resources.type"]["Equals"] == ["AWS::DynamoDB::Table"]
    assert fields["resources.ARN"]["StartsWith"][0]["Fn::Sub"].endswith(f":table/{PREFIX}")
    excluded = [v["Fn::Sub"] for v in fields["userIdentity.arn"]["NotStartsWith"]]
    # Every function but the admin one: a person's commands are recorded here too.
    assert excluded == [f"arn:${{AWS::Partition}}:sts::${{AWS::AccountId}}:assumed-role/${{{role_logical_id(fn)}}}/"
                        for fn in FUNCTIONS if fn != "admin"]
    bucket = r["TrailBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values()) and bucket["VersioningConfiguration"]
    assert r["AuditTrail"]["DependsOn"] == ["TrailBucketPolicy"]


def test_an_alarm_reports_every_use_of_the_break_glass_role(package):
    _, t = package
    r = t["Resources"]
    use = r["BreakGlassUseFilter"]["Properties"]
    assert use["LogGroupName"] == {"Ref": "TrailLogs"}
    pattern = use["FilterPattern"]["Fn::Sub"]
    assert '$.eventName = "AssumeRole"' in pattern and "${BreakGlassRole.Arn}" in pattern
    assert "$.userIdentity.sessionContext.sessionIssuer.arn" in pattern  # its calls, not only assuming it
    metric = use["MetricTransformations"][0]
    alarm = r["BreakGlassUseAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (metric["MetricNamespace"], metric["MetricName"])
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    direct = r["DirectTableAccessFilter"]["Properties"]["FilterPattern"]["Fn::Sub"]
    assert '"dynamodb.amazonaws.com"' in direct and "${AdminRole.Arn}" in direct
    assert r["DirectTableAccessAlarm"]["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
