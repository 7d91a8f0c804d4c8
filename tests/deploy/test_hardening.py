"""What checkov asks that applies here, done in the template (test_checkov.py runs checkov
itself): encrypted queues and topic, API access logs, log groups with retention and our key,
reserved concurrency, X-Ray as configured, our key on the functions' environment."""
from __future__ import annotations

import json
from typing import Any

from deploy.template import CONCURRENCY, FUNCTIONS, LOG_RETENTION_DAYS, LOGICAL, policies, xray_enabled


def _key_statements(t: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return t["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]


def test_queues_and_the_alarm_topic_are_encrypted_with_our_key(package):
    _, t = package
    r = t["Resources"]
    assert r["MessagesKey"]["Type"] == "AWS::KMS::Key" and r["MessagesKey"]["Properties"]["EnableKeyRotation"]
    for queue in ("StripeEventsQueue", "StripeEventsDLQ", "NotificationsFailed"):
        props = r[queue]["Properties"]
        assert props["KmsMasterKeyId"] == {"Ref": "MessagesKey"} and "SqsManagedSseEnabled" not in props
    assert r["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "MessagesKey"}
    # CloudWatch publishes the alarms as itself: only the key policy can let it use the key.
    cloudwatch = [s for s in _key_statements(t, "MessagesKey")
                  if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cloudwatch[0]["Action"])


def test_who_sends_or_receives_on_an_encrypted_queue_may_use_its_key_through_sqs():
    def kms(fn: str) -> set[str]:
        return {a for s in policies("prod")[fn]["Statement"]
                if s.get("Condition", {}).get("StringLike", {}).get("kms:ViaService") == "sqs.*.amazonaws.com"
                for a in s["Action"]}

    assert kms("api_handler") == {"kms:GenerateDataKey", "kms:Decrypt"}  # sends Stripe events
    assert kms("stripe_events") == {"kms:Decrypt"}  # receives them
    assert kms("notifications") == {"kms:GenerateDataKey", "kms:Decrypt"}  # its mappings' on-failure queue
    assert all(not kms(fn) for fn in FUNCTIONS if fn not in ("api_handler", "stripe_events", "notifications"))


def test_every_function_has_its_log_group_concurrency_and_environment_key(package):
    _, t = package
    r = t["Resources"]
    logs_key = _key_statements(t, "LogsKey")
    assert any(s.get("Principal", {}).get("Service") == {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}
               for s in logs_key)
    for fn in FUNCTIONS:
        props = r[LOGICAL[fn]]["Properties"]
        group = r[f"{LOGICAL[fn]}LogGroup"]["Properties"]
        assert group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{LOGICAL[fn]}}}"}
        assert group["RetentionInDays"] >= 365 and group["KmsKeyId"] == {"Fn::GetAtt": ["LogsKey", "Arn"]}
        assert props["ReservedConcurrentExecutions"] == CONCURRENCY[fn] >= 1
        assert props["KmsKeyArn"] == {"Fn::GetAtt": ["FunctionsKey", "Arn"]}
        # The stack makes the group: the function may write to it, never create one without retention.
        actions = {a for s in policies("prod")[fn]["Statement"] for a in s["Action"]}
        assert "logs:CreateLogGroup" not in actions and "logs:PutLogEvents" in actions
    # Lambda keeps 100 of the account's concurrency unreserved: the default limit is 1000.
    assert sum(CONCURRENCY.values()) <= 300 and set(CONCURRENCY) == set(FUNCTIONS)
    for fn in ("reconcile", "resume_withdrawals", "sweep_invitations", "expire_payment_requests",
               "release_allowances", "close_unverified_accounts"):
        assert CONCURRENCY[fn] == 1  # a sweep never overlaps itself
    source = r["StripeEvents"]["Properties"]["Events"]["StripeEventsSqsEventSource"]["Properties"]
    assert source["ScalingConfig"]["MaximumConcurrency"] <= CONCURRENCY["stripe_events"]


def test_both_apis_write_json_access_logs_without_headers_or_bodies(package):
    _, t = package
    r = t["Resources"]
    rest = r["RestAPI"]["Properties"]["AccessLogSetting"]
    ws = r["WebsocketAPIStage"]["Properties"]["AccessLogSettings"]
    for setting, group in ((rest, "ApiAccessLogs"), (ws, "WebsocketAccessLogs")):
        assert setting["DestinationArn"] == {"Fn::GetAtt": [group, "Arn"]}
        fields = json.loads(setting["Format"])
        assert {"requestId", "time", "status", "latencyMs", "sourceIp"} <= set(fields)
        assert not [v for v in fields.values() if "header" in v.lower() or "body" in v.lower()
                    or "authoriz" in v.lower()]
        props = r[group]["Properties"]
        assert props["RetentionInDays"] == LOG_RETENTION_DAYS >= 365 and props["KmsKeyId"]
        # API Gateway logs with the account's CloudWatch role, which must be set first.
        assert r[group]["DependsOn"] == "ApiGatewayAccount"
    assert json.loads(rest["Format"])["path"] == "$context.resourcePath"  # the route, not ids
    role = r[r["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]]["Properties"]
    assert role["ManagedPolicyArns"][0]["Fn::Sub"].endswith("service-role/AmazonAPIGatewayPushToCloudWatchLogs")


def test_xray_follows_the_stage_configuration(package):
    _, t = package
    r = t["Resources"]
    assert xray_enabled("prod") is True
    assert r["RestAPI"]["Properties"]["TracingEnabled"] is True
    for fn in FUNCTIONS:
        assert r[LOGICAL[fn]]["Properties"]["Tracing"] == "Active"
        xray = [s for s in policies("prod")[fn]["Statement"] if "xray:PutTraceSegments" in s["Action"]]
        assert xray and set(xray[0]["Action"]) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_cloudfront_logs_to_a_private_expiring_bucket(package):
    _, t = package
    r = t["Resources"]
    logging = r["WebDistribution"]["Properties"]["DistributionConfig"]["Logging"]
    assert logging["Bucket"] == {"Fn::GetAtt": ["LogsBucket", "DomainName"]} and logging["IncludeCookies"] is False
    bucket = r["LogsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "BucketOwnerPreferred"  # CloudFront's ACL
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == LOG_RETENTION_DAYS
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
