"""The AWS resources around the Chalice functions, generated from the code.

`merge_template(stage)` is the CloudFormation that `chalice package --merge-template` folds into
Chalice's own SAM template: the DynamoDB tables (from the PynamoDB models: the same definition
as tests and the local stack), the queue and its dead-letter queue, the KMS keys, the stream ->
notifications mapping, alarms, API throttling. `policies(stage)` is the least-privilege IAM policy
of each function. Nothing here holds a secret: secrets are SSM SecureString parameters that the
operator creates (README, Deploy), named by `<NAME>_PARAM` variables.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.adapters.dynamodb.models import (
    ALL_MODELS,
    AllowanceRecord,
    BaseModel,
    ConnectionRecord,
    DailyTotalRecord,
    EntryRecord,
    NotificationRecord,
    PaymentRequestRecord,
    SessionRecord,
    TransferRecord,
    UserRecord,
    WalletRecord,
)
from chalicelib.adapters.secrets import SECRET_NAMES
from chalicelib.config import Settings
from deploy.web import HEADER_CSP

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("api_handler", "stripe_events", "notifications", "reconcile", "resume_withdrawals",
             "sweep_invitations", "expire_payment_requests", "release_allowances", "websocket_connect",
             "websocket_message", "websocket_disconnect")
LOGICAL = {"api_handler": "APIHandler", "stripe_events": "StripeEvents", "notifications": "Notifications",
           "reconcile": "Reconcile", "resume_withdrawals": "ResumeWithdrawals",
           "sweep_invitations": "SweepInvitations", "expire_payment_requests": "ExpirePaymentRequests",
           "release_allowances": "ReleaseAllowances",
           "websocket_connect": "WebsocketConnect", "websocket_message": "WebsocketMessage",
           "websocket_disconnect": "WebsocketDisconnect"}
THROTTLE = {"rate": 100, "burst": 200}  # requests/s across the stage; raise with traffic
WS_STAGE = "api"  # Chalice deploys the WebSocket API on the stage named by api_gateway_stage
WS_ENDPOINT = "https://${WebsocketAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/" + WS_STAGE


def stream_mapping_id(model: type[BaseModel]) -> str:
    # The entries mapping keeps the id it was first deployed with: a renamed mapping would be
    # created before the old one is deleted, and Lambda allows one per (stream, function).
    return "NotificationsStreamMapping" if model is EntryRecord else f"Notifications{_camel(model.table)}Stream"


def streamed_models() -> list[type[BaseModel]]:
    from chalicelib.domain.notification import NOTIFYING_TABLES

    return [m for m in ALL_MODELS if m.table in NOTIFYING_TABLES]


def stage_settings(stage: str) -> Settings:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = dict(config["stages"][stage].get("environment_variables", {}))
    env.setdefault("STAGE", stage)
    return Settings.from_env(env)


def stage_env(stage: str) -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return dict(config["stages"][stage].get("environment_variables", {}))


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def table_logical_id(model: type[BaseModel]) -> str:
    return f"Table{_camel(model.table)}"


def _key_schema(keys: Any) -> list[Any]:
    return sorted(keys, key=lambda k: k["KeyType"] != "HASH")  # CloudFormation wants HASH first


def table_resource(model: type[BaseModel], settings: Settings) -> dict[str, Any]:
    schema = model._get_schema()
    props: dict[str, Any] = {
        "TableName": f"{settings.table_prefix}{model.table}",
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": schema["attribute_definitions"],
        "KeySchema": _key_schema(schema["key_schema"]),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "DataKey"}},
        "DeletionProtectionEnabled": True,
    }
    if schema["global_secondary_indexes"]:
        props["GlobalSecondaryIndexes"] = [{
            "IndexName": gsi["index_name"], "KeySchema": _key_schema(gsi["key_schema"]),
            "Projection": gsi["projection"]} for gsi in schema["global_secondary_indexes"]]
    if schema["local_secondary_indexes"]:
        props["LocalSecondaryIndexes"] = [{
            "IndexName": lsi["index_name"], "KeySchema": _key_schema(lsi["key_schema"]),
            "Projection": lsi["projection"]} for lsi in schema["local_secondary_indexes"]]
    if model.ttl_attribute:
        props["TimeToLiveSpecification"] = {"AttributeName": model.ttl_attribute, "Enabled": True}
    stream = getattr(model.Meta, "stream_view_type", None)
    if stream:
        props["StreamSpecification"] = {"StreamViewType": stream}
    return {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": props}


def _key(description: str) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [{
        "Sid": "AccountAdministers", "Effect": "Allow",
        "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
        "Action": "kms:*", "Resource": "*"}]
    return {"Type": "AWS::KMS::Key", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {"Description": description, "EnableKeyRotation": True,
                           "KeyPolicy": {"Version": "2012-10-17", "Statement": statements}}}


def _alarm(description: str, namespace: str, metric: str, dimensions: list[dict[str, Any]], statistic: str,
           threshold: float, period: int = 300, missing: str = "notBreaching") -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": description, "Namespace": namespace, "MetricName": metric, "Dimensions": dimensions,
        "Statistic": statistic, "Period": period, "EvaluationPeriods": 1, "Threshold": threshold,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": missing,
        "AlarmActions": [{"Ref": "AlarmTopic"}]}}


# CloudFront's managed "CachingOptimized" policy (a fixed id in every account).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"


def web_hosting(stage: str) -> dict[str, Any]:
    """The web wallet: a private, encrypted bucket that only this CloudFront distribution can
    read (origin access control), served over HTTPS with security headers. Static hosting
    because the page is a folder of files: no server to patch or scale, and CloudFront is the
    standard AWS way to put HTTPS and a cache in front of a bucket. The files and their
    config.json are uploaded after the stack by `python -m deploy.publish_web` (README, Deploy)."""
    bucket_arn = {"Fn::GetAtt": ["WebBucket", "Arn"]}
    distribution = "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${WebDistribution}"
    return {
        "WebBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                      "Properties": {
                          "PublicAccessBlockConfiguration": {
                              "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
                              "RestrictPublicBuckets": True},
                          "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                          "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                              {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
                          "VersioningConfiguration": {"Status": "Enabled"}}},
        "WebBucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "WebBucket"}, "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "OnlyOurDistributionReads", "Effect": "Allow",
                 "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
                 "Resource": {"Fn::Sub": "${WebBucket.Arn}/*"},
                 "Condition": {"StringEquals": {"AWS:SourceArn": {"Fn::Sub": distribution}}}},
                {"Sid": "HttpsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": [bucket_arn, {"Fn::Sub": "${WebBucket.Arn}/*"}],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}},
        "WebOriginAccessControl": {"Type": "AWS::CloudFront::OriginAccessControl", "Properties": {
            "OriginAccessControlConfig": {"Name": f"ewallet-{stage}-web", "OriginAccessControlOriginType": "s3",
                                          "SigningBehavior": "always", "SigningProtocol": "sigv4"}}},
        "WebHeaders": {"Type": "AWS::CloudFront::ResponseHeadersPolicy", "Properties": {
            "ResponseHeadersPolicyConfig": {
                "Name": f"ewallet-{stage}-web",
                "SecurityHeadersConfig": {
                    "ContentSecurityPolicy": {"ContentSecurityPolicy": HEADER_CSP, "Override": True},
                    "ContentTypeOptions": {"Override": True},
                    "FrameOptions": {"FrameOption": "DENY", "Override": True},
                    "ReferrerPolicy": {"ReferrerPolicy": "no-referrer", "Override": True},
                    "StrictTransportSecurity": {"AccessControlMaxAgeSec": 63072000, "IncludeSubdomains": True,
                                                "Override": True}},
                "CustomHeadersConfig": {"Items": [{"Header": "Permissions-Policy", "Override": True,
                                                   "Value": "camera=(), microphone=(), geolocation=()"}]}}}},
        "WebDistribution": {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": {
            "Enabled": True, "Comment": f"ewallet {stage} web wallet", "DefaultRootObject": "index.html",
            "HttpVersion": "http2and3", "PriceClass": "PriceClass_100",
            "Origins": [{"Id": "web", "DomainName": {"Fn::GetAtt": ["WebBucket", "RegionalDomainName"]},
                         "S3OriginConfig": {"OriginAccessIdentity": ""},
                         "OriginAccessControlId": {"Fn::GetAtt": ["WebOriginAccessControl", "Id"]}}],
            "DefaultCacheBehavior": {"TargetOriginId": "web", "ViewerProtocolPolicy": "redirect-to-https",
                                     "AllowedMethods": ["GET", "HEAD"], "Compress": True,
                                     "CachePolicyId": CACHING_OPTIMIZED,
                                     "ResponseHeadersPolicyId": {"Ref": "WebHeaders"}}}}},
    }


def merge_template(stage: str) -> dict[str, Any]:
    settings = stage_settings(stage)
    queue = stage_env(stage)["STRIPE_EVENTS_QUEUE_NAME"]
    resources: dict[str, Any] = {
        "DataKey": _key("Encrypts the e-wallet's DynamoDB tables at rest"),
        "DataKeyAlias": {"Type": "AWS::KMS::Alias", "Properties": {
            "AliasName": f"alias/ewallet-{stage}-data", "TargetKeyId": {"Ref": "DataKey"}}},
        "SecretsKey": _key("Encrypts the e-wallet's SSM SecureString secrets"),
        "SecretsKeyAlias": {"Type": "AWS::KMS::Alias", "Properties": {
            "AliasName": f"alias/ewallet-{stage}-secrets", "TargetKeyId": {"Ref": "SecretsKey"}}},
        "StripeEventsDLQ": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": f"{queue}-dlq", "MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True}},
        "StripeEventsQueue": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": queue, "VisibilityTimeout": 360, "SqsManagedSseEnabled": True,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["StripeEventsDLQ", "Arn"]},
                              "maxReceiveCount": 5}}},
        "NotificationsFailed": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": f"ewallet-{stage}-notifications-failed", "MessageRetentionPeriod": 1209600,
            "SqsManagedSseEnabled": True}},
        "NotificationsFailedAlarm": _alarm("Stream records the notifications function could not handle",
                                           "AWS/SQS", "ApproximateNumberOfMessagesVisible",
                                           [{"Name": "QueueName", "Value": f"ewallet-{stage}-notifications-failed"}],
                                           "Maximum", 0),
        # Not encrypted with alias/aws/sns: CloudWatch alarms cannot publish to a topic under that
        # AWS-managed key, and alarm notifications carry no personal data.
        "AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"ewallet-{stage}-alarms"}},
        "StripeEventsDLQAlarm": _alarm("Stripe events failed 5 times and wait in the dead-letter queue",
                                       "AWS/SQS", "ApproximateNumberOfMessagesVisible",
                                       [{"Name": "QueueName", "Value": f"{queue}-dlq"}], "Maximum", 0),
        "Api5xxAlarm": _alarm("The API answers with 5xx", "AWS/ApiGateway", "5XXError",
                              [{"Name": "ApiName", "Value": "ewallet"}, {"Name": "Stage", "Value": "api"}],
                              "Sum", 5),
        "ReconciliationDriftAlarm": _alarm("The ledger reconciliation found drift", "ewallet", "ReconciliationDrift",
                                           # Powertools adds the service dimension to every metric.
                                           [{"Name": "service", "Value": "ewallet"}], "Maximum", 0,
                                           period=3600),
        # A withdrawal whose Stripe outcome stayed unknown past the idempotency window: a person
        # must check Stripe and resolve it (it is never sent again automatically).
        "WithdrawalNeedsAttentionAlarm": _alarm("A withdrawal needs a person (outcome unknown at Stripe)",
                                                "ewallet", "WithdrawalNeedsAttention",
                                                [{"Name": "service", "Value": "ewallet"}], "Sum", 0),
        "WithdrawalResumeFailedAlarm": _alarm("Resuming stuck withdrawals keeps failing", "ewallet",
                                              "WithdrawalResumeFailed", [{"Name": "service", "Value": "ewallet"}],
                                              "Sum", 0, period=3600),
        "MoneyNeedsAttentionAlarm": _alarm("A refund or dispute could not be taken from a spent wallet, or a "
                                           "failed refund met such a shortfall: a person decides",
                                           "ewallet", "RefundNeedsAttention",
                                           [{"Name": "service", "Value": "ewallet"}], "Sum", 0),
        "PayoutMismatchAlarm": _alarm("A payout event did not match its withdrawal's amount or currency",
                                      "ewallet", "PayoutMismatch", [{"Name": "service", "Value": "ewallet"}],
                                      "Sum", 0),
        "StaleHoldsAlarm": _alarm("Holds pending longer than the configured age", "ewallet", "StaleHolds",
                                  [{"Name": "service", "Value": "ewallet"}], "Maximum", 0, period=3600),
        "RestAPI": {"Properties": {"MethodSettings": [{
            "ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": THROTTLE["rate"],
            "ThrottlingBurstLimit": THROTTLE["burst"], "MetricsEnabled": True}]}},
        # Let the function report partial batch failures (only the failed messages are retried).
        "StripeEvents": {"Properties": {"Events": {"StripeEventsSqsEventSource": {"Properties": {
            "FunctionResponseTypes": ["ReportBatchItemFailures"]}}}}},
    }
    # API Gateway's import wants the greedy path parameter of the catch-all route declared.
    greedy = [{"name": "proxy", "in": "path", "required": True, "type": "string"}]
    resources["RestAPI"]["Properties"]["DefinitionBody"] = {"paths": {"/{proxy+}": {
        method: {"parameters": greedy} for method in ("get", "post", "put", "patch", "delete")}}}
    resources.update(web_hosting(stage))
    for model in ALL_MODELS:
        resources[table_logical_id(model)] = table_resource(model, settings)
    for model in streamed_models():  # every table whose changes notify someone
        resources[stream_mapping_id(model)] = {
            "Type": "AWS::Lambda::EventSourceMapping", "Properties": {
                "EventSourceArn": {"Fn::GetAtt": [table_logical_id(model), "StreamArn"]},
                "FunctionName": {"Ref": "Notifications"}, "StartingPosition": "LATEST", "BatchSize": 100,
                "MaximumRetryAttempts": 10, "BisectBatchOnFunctionError": True,
                # A record still failing after the retries is not dropped silently: its
                # position goes to a queue (alarmed) for a person to replay.
                "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["NotificationsFailed", "Arn"]}}}}}
    for fn in FUNCTIONS:
        variables: dict[str, Any] = {"STRIPE_EVENTS_QUEUE_URL": {"Ref": "StripeEventsQueue"}}
        if fn == "notifications":  # it pushes to the WebSocket API's connections
            variables["WS_MANAGEMENT_ENDPOINT"] = {"Fn::Sub": WS_ENDPOINT}
        if fn == "api_handler":  # the web wallet calls the API from its own origin
            variables["CORS_ORIGINS"] = {"Fn::Sub": "https://${WebDistribution.DomainName}"}
        resources.setdefault(LOGICAL[fn], {}).setdefault("Properties", {})["Environment"] = {"Variables": variables}
    return {"Resources": resources, "Outputs": {
        "StripeEventsQueueUrl": {"Value": {"Ref": "StripeEventsQueue"}},
        "SecretsKeyArn": {"Value": {"Fn::GetAtt": ["SecretsKey", "Arn"]}},
        "AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}},
        "WebBucketName": {"Value": {"Ref": "WebBucket"}},
        "WebDistributionId": {"Value": {"Ref": "WebDistribution"}},
        "WebUrl": {"Value": {"Fn::Sub": "https://${WebDistribution.DomainName}"}}}}


# -- IAM ------------------------------------------------------------------------------------------
READ = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"]
WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"]


def _tables(settings: Settings) -> list[str]:
    return [f"arn:aws:dynamodb:*:*:table/{settings.table_prefix}{m.table}" for m in ALL_MODELS]


def policies(stage: str) -> dict[str, dict[str, Any]]:
    settings = stage_settings(stage)
    env = stage_env(stage)
    queue_arn = f"arn:aws:sqs:*:*:{env['STRIPE_EVENTS_QUEUE_NAME']}"
    tables = _tables(settings)
    indexes = [f"{t}/index/*" for t in tables]

    def table(model: type[BaseModel]) -> str:
        return f"arn:aws:dynamodb:*:*:table/{settings.table_prefix}{model.table}"

    logs = {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "arn:aws:logs:*:*:*"}
    def secrets_of(*names: str) -> list[dict[str, Any]]:
        """Reading these secrets (default: all of them) and nothing else."""
        return [
            {"Effect": "Allow", "Action": ["ssm:GetParameter"],
             "Resource": [f"arn:aws:ssm:*:*:parameter{env[f'{name}_PARAM']}" for name in names or SECRET_NAMES]},
            # SecureStrings are decrypted by SSM with the stack's secrets key, on this function's behalf.
            {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "arn:aws:kms:*:*:key/*",
             "Condition": {"StringLike": {"kms:ViaService": "ssm.*.amazonaws.com"},
                           "ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/ewallet-{stage}-secrets"}}},
        ]

    secrets = secrets_of()
    # What building the ledger and identity services reads (no Stripe key, no webhook secret).
    keys = secrets_of("JWT_PRIVATE_KEY", "DATA_KEY", "BLIND_INDEX_KEY")
    money = {"Effect": "Allow", "Action": [*READ, *WRITE, "dynamodb:TransactWriteItems"],
             "Resource": tables + indexes}
    # Codes and invitations go out by e-mail from the one verified sender, and by SMS: SNS
    # SMS has no topic to name, so Publish cannot be narrowed by resource; a deny on every
    # topic and application endpoint keeps it to direct SMS.
    messages = [
        {"Effect": "Allow", "Action": ["ses:SendEmail"], "Resource": "*",
         "Condition": {"StringEquals": {"ses:FromAddress": env["MAIL_FROM"]}}},
        {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": "*"},
        {"Effect": "Deny", "Action": ["sns:Publish"], "Resource": "arn:aws:sns:*:*:*"},
    ]
    out = {
        "api_handler": [logs, money, *secrets, *messages,
                        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": queue_arn}],
        "stripe_events": [logs, money, *secrets,
                          {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage",
                                                         "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
                           "Resource": queue_arn}],
        # Names and notification data are encrypted: the data key, and no other secret.
        "notifications": [logs, *secrets_of("DATA_KEY"), {
            "Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                                          "dynamodb:ListStreams"],
            "Resource": [f"{table(m)}/stream/*" for m in streamed_models()]},
            {"Effect": "Allow", "Action": ["dynamodb:GetItem"],
             "Resource": [table(UserRecord), table(TransferRecord), table(SessionRecord)]},
            {"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": [table(NotificationRecord)]},
            {"Effect": "Allow", "Action": ["dynamodb:Query", "dynamodb:DeleteItem"],
             "Resource": [table(ConnectionRecord), f"{table(ConnectionRecord)}/index/*"]},
            # Only posting to connections, only on this stage (the API's id is not known here).
            {"Effect": "Allow", "Action": ["execute-api:ManageConnections"],
             "Resource": f"arn:aws:execute-api:*:*:*/{WS_STAGE}/POST/@connections/*"},
            # Where the stream mappings put a batch that keeps failing (their on-failure destination).
            {"Effect": "Allow", "Action": ["sqs:SendMessage"],
             "Resource": f"arn:aws:sqs:*:*:ewallet-{stage}-notifications-failed"}],
        # The token of a connection is checked like an HTTP call's (its session must be live).
        "websocket_connect": [logs, *keys,
                              {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": [table(SessionRecord)]},
                              {"Effect": "Allow", "Action": ["dynamodb:PutItem"],
                               "Resource": [table(ConnectionRecord)]}],
        "websocket_message": [logs],
        "websocket_disconnect": [logs, {"Effect": "Allow", "Action": ["dynamodb:DeleteItem"],
                                        "Resource": [table(ConnectionRecord)]}],
        "reconcile": [logs, *secrets,
                      {"Effect": "Allow", "Action": [*READ, "dynamodb:Scan"], "Resource": tables + indexes}],
        "resume_withdrawals": [logs, *secrets,
                               {"Effect": "Allow", "Action": [*READ, *WRITE, "dynamodb:Scan",
                                                              "dynamodb:TransactWriteItems"],
                                "Resource": tables + indexes}],
        "sweep_invitations": [logs, money, *secrets],
        "expire_payment_requests": [logs, *secrets_of("DATA_KEY", "BLIND_INDEX_KEY"), {
            "Effect": "Allow", "Action": ["dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:TransactWriteItems"],
            "Resource": [table(PaymentRequestRecord), f"{table(PaymentRequestRecord)}/index/*"]}],
        # Voids what is left of expired allowances: the ledger's items, and no secret at all.
        "release_allowances": [logs, {
            "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem",
                                          "dynamodb:TransactWriteItems"],
            "Resource": [table(AllowanceRecord), f"{table(AllowanceRecord)}/index/*", table(TransferRecord),
                         table(WalletRecord), table(EntryRecord), table(DailyTotalRecord)]}],
    }
    return {fn: {"Version": "2012-10-17", "Statement": statements} for fn, statements in out.items()}


def override(template: dict[str, Any]) -> dict[str, Any]:
    """What a merge cannot express (it merges dictionaries, it never replaces one): Chalice
    names the queue of the SQS event source by a string, so CloudFormation would not know to
    create the queue first; point it at the queue resource instead."""
    source = template["Resources"]["StripeEvents"]["Properties"]["Events"]["StripeEventsSqsEventSource"]
    source["Properties"]["Queue"] = {"Fn::GetAtt": ["StripeEventsQueue", "Arn"]}
    return template
