"""The AWS resources around the Chalice functions, generated from the code.

`merge_template(stage)` is the CloudFormation that `chalice package --merge-template` folds into
Chalice's own SAM template: the DynamoDB tables (from the PynamoDB models: the same definition
as tests and the local stack), the queue and its dead-letter queue, the KMS keys, the stream ->
notifications mapping, alarms, API throttling and access logs, the REST API's web ACL (AWS WAF:
registrations per client address), the functions' log groups, their reserved concurrency, and the
operators' IAM policy. `edge_firewall(stage)` is the web distribution's web ACL, a template of its
own for us-east-1 (`make package` writes both). `policies(stage)` is the least-privilege IAM policy of each function.
Nothing here holds a secret: secrets are SSM SecureString parameters that the operator creates
(docs/deploy.md), named by `<NAME>_PARAM` variables.

The template passes checkov (tests/deploy/test_checkov.py): what a check asks and applies here is
done; a check that does not apply is skipped in the resource's own `Metadata`, with its reason
(`_skips`), so the reason travels with the template.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.adapters.dynamodb.models import (
    ALL_MODELS,
    AccountStatusRecord,
    AllowanceRecord,
    AuditRecord,
    BaseModel,
    ChainHeadRecord,
    CheckpointRecord,
    ConnectionRecord,
    DailyTotalRecord,
    EntryRecord,
    FxRatesRecord,
    IdentityRecord,
    NotificationRecord,
    PaymentRequestRecord,
    SessionRecord,
    TransferRecord,
    UserRecord,
    WalletRecord,
)
from chalicelib.adapters.secrets import SECRET_NAMES
from chalicelib.api.refresh_cookie import WEB_API_PREFIX
from chalicelib.config import Settings
from deploy.web import HEADER_CSP

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("api_handler", "stripe_events", "notifications", "reconcile", "resume_withdrawals",
             "sweep_invitations", "expire_payment_requests", "release_allowances", "close_unverified_accounts",
             "fetch_fx_rates", "chain_entries", "checkpoint_ledger", "websocket_connect",
             "websocket_message", "websocket_disconnect", "admin")
LOGICAL = {"api_handler": "APIHandler", "stripe_events": "StripeEvents", "notifications": "Notifications",
           "reconcile": "Reconcile", "resume_withdrawals": "ResumeWithdrawals",
           "sweep_invitations": "SweepInvitations", "expire_payment_requests": "ExpirePaymentRequests",
           "release_allowances": "ReleaseAllowances", "close_unverified_accounts": "CloseUnverifiedAccounts",
           "fetch_fx_rates": "FetchFxRates", "chain_entries": "ChainEntries", "checkpoint_ledger": "CheckpointLedger",
           "websocket_connect": "WebsocketConnect", "websocket_message": "WebsocketMessage",
           "websocket_disconnect": "WebsocketDisconnect", "admin": "Admin"}
THROTTLE = {"rate": 100, "burst": 200}  # requests/s across the stage; raise with traffic
WS_STAGE = "api"  # Chalice deploys the WebSocket API on the stage named by api_gateway_stage
WS_ENDPOINT = "https://${WebsocketAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/" + WS_STAGE
# Requests per client address, counted at the edge by AWS WAF, not in the app (API.md,
# "Sessions, step-up and account safety"): (rule, path, limit, window in seconds, what). At most
# 20 registrations per address in any 300 seconds; 10 password-reset codes asked for and 10
# resets tried, so one address cannot use up an e-mail's 5 codes an hour and burn each one
# (docs/account-safety.md: a distributed attacker still can).
PER_ADDRESS = (("RegistrationsPerAddress", "/auth/register", 20, 300, "registrations"),
               ("PasswordCodesPerAddress", "/auth/password/forgot", 10, 300, "password reset codes"),
               ("PasswordResetsPerAddress", "/auth/password/reset", 10, 300, "password resets"))

# Each function's reserved concurrency: its ceiling, and its share of the account's pool that
# nothing else can take. It caps how hard a burst, a retry storm or a runaway loop can hit
# DynamoDB (and Stripe) through one function. The sum (224 today) must stay under the account's limit
# minus the 100 that Lambda keeps unreserved: fine with the default 1000, not with the 10 of a
# new account (docs/deploy.md).
CONCURRENCY = {
    "api_handler": 100,  # the stage throttle (100 requests/s of ~100 ms) keeps ~10 busy: 10x headroom
    "stripe_events": 5,  # webhooks wait in their queue: a few at a time drain it, nothing is lost
    "notifications": 50,  # one invocation per stream shard, over the streams of 6 tables
    "websocket_connect": 20, "websocket_message": 10, "websocket_disconnect": 20,
    # The sweeps run one at a time: two runs never work on the same items at once.
    "reconcile": 1, "resume_withdrawals": 1, "sweep_invitations": 1, "expire_payment_requests": 1,
    "release_allowances": 1, "close_unverified_accounts": 1, "fetch_fx_rates": 1, "checkpoint_ledger": 1,
    # One invocation per shard of the entries stream (a chain is extended by one writer at a time;
    # its head's condition settles the rare overlap after a shard split).
    "chain_entries": 10,
    "admin": 2,  # a person's commands, a few a day: two people at once at most, one busy Stripe look-up
}
# A year: disputes, chargebacks and audit questions come months after the payment (and checkov
# CKV_AWS_338 asks for at least a year).
LOG_RETENTION_DAYS = 365
# Access logs: who called what, when, with what answer; never a header (Authorization) or a body.
# resourcePath is the route template (/wallets/{wallet_id}), not the path with ids in it.
REST_ACCESS_LOG = json.dumps({
    "requestId": "$context.requestId", "time": "$context.requestTime", "method": "$context.httpMethod",
    "path": "$context.resourcePath", "status": "$context.status", "latencyMs": "$context.responseLatency",
    "sourceIp": "$context.identity.sourceIp"}, separators=(",", ":"))
# A WebSocket call has no method or path: its event (CONNECT, MESSAGE, DISCONNECT) and route.
# The token sent on connect is in the query string, which is not logged.
WS_ACCESS_LOG = json.dumps({
    "requestId": "$context.requestId", "time": "$context.requestTime", "event": "$context.eventType",
    "route": "$context.routeKey", "connectionId": "$context.connectionId", "status": "$context.status",
    "latencyMs": "$context.integrationLatency", "sourceIp": "$context.identity.sourceIp"}, separators=(",", ":"))


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


def _key(description: str, *services: dict[str, Any]) -> dict[str, Any]:
    """A customer-managed key, rotated yearly. The account administers it, so IAM policies say
    who may use it (each function's, the operators'); `services` are the statements for the AWS
    services that act under their own identity and so need the key policy itself to let them in
    (CloudWatch alarms publishing to the encrypted topic, CloudWatch Logs)."""
    statements: list[dict[str, Any]] = [{
        "Sid": "AccountAdministers", "Effect": "Allow",
        "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
        "Action": "kms:*", "Resource": "*"}, *services]
    return {"Type": "AWS::KMS::Key", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {"Description": description, "EnableKeyRotation": True,
                           "KeyPolicy": {"Version": "2012-10-17", "Statement": statements}}}


def _alias(stage: str, name: str, key: str) -> dict[str, Any]:
    return {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": f"alias/ewallet-{stage}-{name}",
                                                      "TargetKeyId": {"Ref": key}}}


# CloudWatch publishes an alarm to the topic as itself, not as anyone of the account: the key
# policy must let it in (which alias/aws/sns does not, hence a key of ours for the topic).
ALARMS_MAY_PUBLISH = {"Sid": "CloudWatchAlarmsPublish", "Effect": "Allow",
                      "Principal": {"Service": "cloudwatch.amazonaws.com"},
                      "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"}
# CloudWatch Logs encrypts a log group's events with the group's key, for this account's groups only.
LOGS_MAY_ENCRYPT = {"Sid": "CloudWatchLogsEncrypt", "Effect": "Allow",
                    "Principal": {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}},
                    "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                               "kms:Describe*"], "Resource": "*",
                    "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": {
                        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}}}}


def kms_keys(stage: str) -> dict[str, Any]:
    """One key per purpose, so that a grant or a policy on one reaches nothing else:
    - DataKey: the DynamoDB tables; SecretsKey: the SSM SecureString secrets;
    - MessagesKey: the queues and the alarm topic (the functions use it only through SQS);
    - LogsKey: the log groups (only CloudWatch Logs uses it);
    - FunctionsKey: the functions' environment variables. Lambda decrypts them through a grant it
      creates on the key for each function's role when the function is deployed (with the
      deployer's kms:CreateGrant and kms:Encrypt, which the account's administration gives):
      the roles themselves need no permission on it."""
    return {
        "DataKey": _key("Encrypts the e-wallet's DynamoDB tables at rest"),
        "DataKeyAlias": _alias(stage, "data", "DataKey"),
        "SecretsKey": _key("Encrypts the e-wallet's SSM SecureString secrets"),
        "SecretsKeyAlias": _alias(stage, "secrets", "SecretsKey"),
        "MessagesKey": _key("Encrypts the e-wallet's queues and alarm topic", ALARMS_MAY_PUBLISH),
        "MessagesKeyAlias": _alias(stage, "messages", "MessagesKey"),
        "LogsKey": _key("Encrypts the e-wallet's log groups", LOGS_MAY_ENCRYPT),
        "LogsKeyAlias": _alias(stage, "logs", "LogsKey"),
        "FunctionsKey": _key("Encrypts the e-wallet's Lambda environment variables"),
        "FunctionsKeyAlias": _alias(stage, "functions", "FunctionsKey"),
    }


def _skips(**reasons: str) -> dict[str, Any]:
    """The resource's `Metadata` that tells checkov which checks do not apply to it, and why
    (check id -> one-line reason); tests/deploy/test_checkov.py wants a reason for each."""
    return {"checkov": {"skip": [{"id": check, "comment": why} for check, why in reasons.items()]}}


def _log_group(name: Any, depends_on: str | None = None, key: str = "LogsKey") -> dict[str, Any]:
    """A log group with its retention and our key (`key`, the logs key of the stack). Kept if the
    stack goes: the logs are the record of what happened to people's money."""
    group: dict[str, Any] = {
        "Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": {"LogGroupName": name, "RetentionInDays": LOG_RETENTION_DAYS,
                       "KmsKeyId": {"Fn::GetAtt": [key, "Arn"]}}}
    if depends_on:
        group["DependsOn"] = depends_on
    return group


def _alarm(description: str, namespace: str, metric: str, dimensions: list[dict[str, Any]], statistic: str,
           threshold: float, period: int = 300, missing: str = "notBreaching") -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": description, "Namespace": namespace, "MetricName": metric, "Dimensions": dimensions,
        "Statistic": statistic, "Period": period, "EvaluationPeriods": 1, "Threshold": threshold,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": missing,
        "AlarmActions": [{"Ref": "AlarmTopic"}]}}


# CloudFront's managed "CachingOptimized" policy (a fixed id in every account).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
# The API under the page's origin: managed "CachingDisabled", and "AllViewerExceptHostHeader"
# (every header, cookie and query string but Host, which must name API Gateway; with caching
# disabled, Authorization goes too).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def logs_bucket() -> dict[str, Any]:
    """Where CloudFront writes its access logs: private, encrypted, HTTPS only, expired after the
    logs' retention. CloudFront's standard logging writes through the bucket's ACL (it grants its
    log delivery account a write ACL), so ACLs stay enabled (BucketOwnerPreferred: the objects are
    still ours); a grant to that one account is not public, the public access block stays whole.
    SSE-S3 because the logs delivery cannot use a KMS key without a key policy for it."""
    return _private_bucket(
        "LogsBucket", ownership="BucketOwnerPreferred",
        skip="This is the bucket access logs go to: logging it would log the log writes",
        LifecycleConfiguration={"Rules": [{
            "Id": "ExpireLogs", "Status": "Enabled", "ExpirationInDays": LOG_RETENTION_DAYS,
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]})


def _private_bucket(name: str, *, ownership: str, skip: str, allow: tuple[dict[str, Any], ...] = (),
                    **properties: Any) -> dict[str, Any]:
    """A bucket nobody outside reaches: public access blocked, encrypted (SSE-S3), versioned,
    HTTPS only (its policy, with the `allow` statements). `skip`: why S3 access logging does
    not apply to it (checkov CKV_AWS_18)."""
    arn = {"Fn::GetAtt": [name, "Arn"]}
    https_only = {"Sid": "HttpsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                  "Resource": [arn, {"Fn::Sub": f"${{{name}.Arn}}/*"}],
                  "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    return {
        name: {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
               "Metadata": _skips(CKV_AWS_18=skip),
               "Properties": {
                   "PublicAccessBlockConfiguration": {
                       "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
                       "RestrictPublicBuckets": True},
                   "OwnershipControls": {"Rules": [{"ObjectOwnership": ownership}]},
                   "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                       {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
                   "VersioningConfiguration": {"Status": "Enabled"}, **properties}},
        f"{name}Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": name},
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [*allow, https_only]}}},
    }


# The header CloudFront adds to every request it sends the API (API_ORIGIN), valued with the
# stack's NoEcho parameter ORIGIN_SECRET_PARAM: the regional web ACL knows by it which requests
# came through the distribution, whose edge ACL has already counted them per viewer address.
# CloudFront overwrites a viewer's header of that name, so only who knows the value can send it.
ORIGIN_HEADER = "x-origin-verify"
ORIGIN_SECRET_PARAM = "ApiOriginSecret"
EDGE_ACL_PARAM = "EdgeWebAclArn"
# The CLOUDFRONT-scope web ACL's stack: WAF takes that scope only in us-east-1.
EDGE_REGION = "us-east-1"

# The API under the web wallet's own origin (API.md, "Staying signed in"): /api/* goes to the REST
# API's stage as it is, since the stage is named like the prefix (/api/auth/refresh is the stage
# "api", route /auth/refresh), so the page needs no CORS and its refresh cookie is first-party.
# Nothing cached; every method; all the viewer's headers but Host, its cookies and query strings
# go to this origin only (the files' behaviour forwards no cookie to the bucket). CloudFront adds
# the origin header (ORIGIN_HEADER, the stack's secret parameter), overwriting any viewer's: the
# regional web ACL does not count per address again what the edge web ACL counted per viewer.
API_ORIGIN = {"Id": "api", "DomainName": {"Fn::Sub": "${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"},
              "CustomOriginConfig": {"OriginProtocolPolicy": "https-only", "OriginSSLProtocols": ["TLSv1.2"],
                                     "HTTPSPort": 443, "OriginReadTimeout": 30},
              "OriginCustomHeaders": [{"HeaderName": ORIGIN_HEADER, "HeaderValue": {"Ref": ORIGIN_SECRET_PARAM}}]}
API_BEHAVIOR = {"PathPattern": f"{WEB_API_PREFIX}/*", "TargetOriginId": "api", "ViewerProtocolPolicy": "https-only",
                "AllowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
                "CachedMethods": ["GET", "HEAD"], "Compress": False, "CachePolicyId": CACHING_DISABLED,
                "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST_HEADER}


def web_hosting(stage: str) -> dict[str, Any]:
    """The web wallet: a private, encrypted bucket that only this CloudFront distribution can
    read (origin access control), served over HTTPS with security headers. Static hosting
    because the page is a folder of files: no server to patch or scale, and CloudFront is the
    standard AWS way to put HTTPS and a cache in front of a bucket. The files and their
    config.json are uploaded after the stack by `python -m deploy.publish_web` (docs/deploy.md).
    CloudFront's access logs go to the logs bucket (`logs_bucket`). Its web ACL is the edge
    stack's (`edge_firewall`, in us-east-1), named by the EdgeWebAclArn parameter."""
    distribution = "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${WebDistribution}"
    waived = _skips(
        CKV_AWS_174="The default *.cloudfront.net certificate cannot set a minimum TLS version; a custom "
                    "domain's certificate should use TLSv1.2_2021")
    return {
        **logs_bucket(),
        **_private_bucket(
            "WebBucket", ownership="BucketOwnerEnforced",
            skip="Read only by our CloudFront distribution, whose access logs (LogsBucket) record every request",
            allow=({"Sid": "OnlyOurDistributionReads", "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
                    "Resource": {"Fn::Sub": "${WebBucket.Arn}/*"},
                    "Condition": {"StringEquals": {"AWS:SourceArn": {"Fn::Sub": distribution}}}},)),
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
                                                   "Value": "camera=(self), microphone=(), geolocation=()"}]}}}},
        "WebDistribution": {"Type": "AWS::CloudFront::Distribution", "Metadata": waived, "Properties": {
            "DistributionConfig": {
                "Enabled": True, "Comment": f"ewallet {stage} web wallet", "DefaultRootObject": "index.html",
                "HttpVersion": "http2and3", "PriceClass": "PriceClass_100", "WebACLId": {"Ref": EDGE_ACL_PARAM},
                "Logging": {"Bucket": {"Fn::GetAtt": ["LogsBucket", "DomainName"]}, "Prefix": "cloudfront/",
                            "IncludeCookies": False},
                "Origins": [{"Id": "web", "DomainName": {"Fn::GetAtt": ["WebBucket", "RegionalDomainName"]},
                             "S3OriginConfig": {"OriginAccessIdentity": ""},
                             "OriginAccessControlId": {"Fn::GetAtt": ["WebOriginAccessControl", "Id"]}},
                            API_ORIGIN],
                "DefaultCacheBehavior": {"TargetOriginId": "web", "ViewerProtocolPolicy": "redirect-to-https",
                                         "AllowedMethods": ["GET", "HEAD"], "Compress": True,
                                         "CachePolicyId": CACHING_OPTIMIZED,
                                         "ResponseHeadersPolicyId": {"Ref": "WebHeaders"}},
                "CacheBehaviors": [API_BEHAVIOR]}}},
    }


def xray_enabled(stage: str) -> bool:
    """The stage's `xray` setting in .chalice/config.json: Chalice then traces the functions
    (Tracing: Active); the REST API's tracing and the functions' X-Ray permissions follow it."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return bool(config["stages"][stage].get("xray", False))


_SYNCHRONOUS = "Invoked synchronously by API Gateway: a failure is answered to the caller; there is no event to keep"
_SWEEP = "A scheduled sweep: what a failed run missed, the next run does again (failures show in its logs and metrics)"
# Why no function has a dead-letter queue of its own (checkov CKV_AWS_116): none is invoked
# asynchronously with an event that would otherwise be lost.
NO_DLQ = {
    "api_handler": _SYNCHRONOUS, "websocket_connect": _SYNCHRONOUS, "websocket_message": _SYNCHRONOUS,
    "websocket_disconnect": _SYNCHRONOUS, "admin": _SYNCHRONOUS,
    "stripe_events": "Fed by SQS: a failing message returns to its queue, whose redrive policy moves it to "
                     "StripeEventsDLQ (alarmed) after 5 receives",
    "notifications": "Fed by DynamoDB streams: a batch still failing after its retries goes to the mappings' "
                     "on-failure queue NotificationsFailed (alarmed)",
    "reconcile": _SWEEP, "resume_withdrawals": _SWEEP, "sweep_invitations": _SWEEP,
    "expire_payment_requests": _SWEEP, "release_allowances": _SWEEP, "close_unverified_accounts": _SWEEP,
    "fetch_fx_rates": _SWEEP, "checkpoint_ledger": _SWEEP,
    "chain_entries": "Fed by the entries stream and retried until it succeeds: a record skipped would leave an "
                     "entry out of its chain, so the shard waits instead (its iterator age is alarmed)",
}
NO_VPC = ("Calls only AWS public endpoints and Stripe: no private resource to reach, so a VPC would add NAT "
          "gateways for no isolation gained")


def functions(stage: str) -> dict[str, Any]:
    """What each Chalice function gets on top of Chalice's definition: its environment (the
    names of resources of this template), our key for that environment, its reserved
    concurrency (CONCURRENCY), its log group (/aws/lambda/<function name>, with retention and
    our key: the stack creates it, the function no longer may, see `policies`), and the checks
    that do not apply to it."""
    resources: dict[str, Any] = {}
    for fn in FUNCTIONS:
        logical = LOGICAL[fn]
        variables: dict[str, Any] = {"STRIPE_EVENTS_QUEUE_URL": {"Ref": "StripeEventsQueue"}}
        # The notifications function pushes to the WebSocket API's connections; the API closes
        # those of a session that is revoked.
        if fn in ("notifications", "api_handler", "close_unverified_accounts"):
            variables["WS_MANAGEMENT_ENDPOINT"] = {"Fn::Sub": WS_ENDPOINT}
        # No CORS_ORIGINS: the web wallet calls the API under its own origin (API_BEHAVIOR), and
        # the distribution depends on the API, so the API cannot name the distribution.
        resources[logical] = {
            # Tables are named, not referenced, in the environment: without this an update could
            # bring a function's new code up before a table it needs exists.
            "DependsOn": [table_logical_id(m) for m in ALL_MODELS],
            "Metadata": _skips(CKV_AWS_116=NO_DLQ[fn], CKV_AWS_117=NO_VPC),
            "Properties": {"Environment": {"Variables": variables},
                           "KmsKeyArn": {"Fn::GetAtt": ["FunctionsKey", "Arn"]},
                           "ReservedConcurrentExecutions": CONCURRENCY[fn]}}
        resources[f"{logical}LogGroup"] = _log_group({"Fn::Sub": f"/aws/lambda/${{{logical}}}"})
    # Let the function report partial batch failures (only the failed messages are retried), and
    # never poll more at once than its reserved concurrency: a throttled batch would count as a
    # receive and could send good events to the dead-letter queue.
    resources["StripeEvents"]["Properties"]["Events"] = {"StripeEventsSqsEventSource": {"Properties": {
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": CONCURRENCY["stripe_events"]}}}}
    # Direct SMS (codes, invitations) has no topic to name: see `policies`, "messages".
    resources["ApiHandlerRole"] = {"Metadata": _skips(
        CKV_AWS_111="sns:Publish of direct SMS has no resource to name; a deny on every topic and "
                    "application endpoint keeps it to SMS")}
    return resources


def api_logging(stage: str) -> dict[str, Any]:
    """Access logs of both APIs, to log groups of ours. API Gateway writes them (for REST and
    WebSocket APIs alike) with the account's CloudWatch role, one per account and region
    (AWS::ApiGateway::Account): it must be set before a stage turns logging on, so the log groups
    depend on it and the stages on the log groups. The role is kept if the stack goes: other APIs
    of the account may log through it."""
    return {
        "ApiGatewayCloudWatchRole": {
            "Type": "AWS::IAM::Role", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                    "Action": "sts:AssumeRole"}]},
                "ManagedPolicyArns": [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                                                  "AmazonAPIGatewayPushToCloudWatchLogs"}]}},
        "ApiGatewayAccount": {"Type": "AWS::ApiGateway::Account", "Properties": {
            "CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}}},
        "ApiAccessLogs": _log_group(f"/ewallet/{stage}/api-access", depends_on="ApiGatewayAccount"),
        "WebsocketAccessLogs": _log_group(f"/ewallet/{stage}/websocket-access", depends_on="ApiGatewayAccount"),
        "WebsocketAPIStage": {"Properties": {"AccessLogSettings": {
            "DestinationArn": {"Fn::GetAtt": ["WebsocketAccessLogs", "Arn"]}, "Format": WS_ACCESS_LOG}}},
    }


def rest_api(stage: str) -> dict[str, Any]:
    """The REST API's stage: throttled, traced as the stage's `xray` says, access-logged."""
    # API Gateway's import wants the greedy path parameter of the catch-all route declared.
    greedy = [{"name": "proxy", "in": "path", "required": True, "type": "string"}]
    return {"Metadata": _skips(CKV_AWS_120="Answers are per user and carry balances: a cache would serve "
                                           "stale money, or one user's answer to another"),
            "Properties": {
                "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": THROTTLE["rate"],
                                    "ThrottlingBurstLimit": THROTTLE["burst"], "MetricsEnabled": True}],
                "TracingEnabled": xray_enabled(stage),
                "AccessLogSetting": {"DestinationArn": {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]},
                                     "Format": REST_ACCESS_LOG},
                "DefinitionBody": {"paths": {"/{proxy+}": {
                    method: {"parameters": greedy} for method in ("get", "post", "put", "patch", "delete")}}}}}


# -- AWS WAF ---------------------------------------------------------------------------------------


def parameters() -> dict[str, Any]:
    """The regional stack's parameters: the edge web ACL (the edge stack's output, deployed first)
    and the origin header's secret (never in the repository or the template: docs/deploy.md)."""
    return {
        EDGE_ACL_PARAM: {
            "Type": "String", "Description": "ARN of the CLOUDFRONT-scope web ACL: output EdgeWebAclArn of the "
                                            "edge firewall stack (build/package/edge-firewall.json, in us-east-1)",
            "AllowedPattern": r"^arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global/webacl/.+$"},
        ORIGIN_SECRET_PARAM: {
            "Type": "String", "NoEcho": True, "MinLength": 32, "MaxLength": 128, "AllowedPattern": "^[A-Za-z0-9]+$",
            "Description": f"Random value of the {ORIGIN_HEADER} header CloudFront sends the API (openssl rand -hex "
                           "32); requests bearing it are counted per viewer address at the edge, not again here"}}


def _visibility(metric: str) -> dict[str, Any]:
    return {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": metric}


def _matches(field: dict[str, Any], constraint: str, value: Any, *transformations: str) -> dict[str, Any]:
    return {"ByteMatchStatement": {
        "FieldToMatch": field, "PositionalConstraint": constraint, "SearchString": value,
        "TextTransformations": [{"Priority": i, "Type": t} for i, t in enumerate(transformations or ("NONE",))]}}


def per_address_rules(prefix: str = "", *, cors_origin: Any = None,
                      unless_header: tuple[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rate-based rules of PER_ADDRESS, and their response bodies, for either web ACL. Each
    counts, per source IP, the POSTs whose path ends in `prefix` + its path (URL-decoded, with
    repeated slashes and dot segments removed, lower-cased, a trailing slash allowed: however a
    client spells it), and blocks that address's requests to it while it is over the limit, with
    the API's own 429 `too_many_requests` and a Retry-After. The source IP, never a forwarded
    header, which any client could set.
    - `cors_origin`: the origin allowed to read the block (the regional ACL answers for API
      Gateway, so it must carry the CORS headers itself); none at the edge (same origin).
    - `unless_header`: (name, value) of a header whose requests the rules do not count (the
      regional ACL's: those CloudFront brought, counted at the edge by the viewer's address)."""
    rules = []
    for priority, (rule, path, limit, window, _) in enumerate(PER_ADDRESS):
        full = prefix + path
        scope: list[dict[str, Any]] = [
            {"OrStatement": {"Statements": [
                _matches({"UriPath": {}}, "ENDS_WITH", spelled, "URL_DECODE", "NORMALIZE_PATH", "LOWERCASE")
                for spelled in (full, full + "/")]}},
            _matches({"Method": {}}, "EXACTLY", "POST")]
        if unless_header:
            name, value = unless_header
            scope.append({"NotStatement": {"Statement": _matches({"SingleHeader": {"Name": name}}, "EXACTLY", value)}})
        headers = [{"Name": "Retry-After", "Value": str(window)}]
        if cors_origin is not None:
            headers += [{"Name": "Access-Control-Allow-Origin", "Value": cors_origin},
                        {"Name": "Access-Control-Expose-Headers", "Value": "Retry-After"},
                        {"Name": "Vary", "Value": "Origin"}]
        rules.append({
            "Name": rule, "Priority": priority,
            "Statement": {"RateBasedStatement": {
                "Limit": limit, "EvaluationWindowSec": window, "AggregateKeyType": "IP",
                "ScopeDownStatement": {"AndStatement": {"Statements": scope}}}},
            "Action": {"Block": {"CustomResponse": {
                "ResponseCode": 429, "CustomResponseBodyKey": rule, "ResponseHeaders": headers}}},
            "VisibilityConfig": _visibility(rule)})

    def too_many(what: str) -> dict[str, str]:
        message = f"Too many {what} from this address; try again later"
        return {"ContentType": "APPLICATION_JSON", "Content": json.dumps(
            {"error": {"code": "too_many_requests", "message": message}}, separators=(",", ":"))}

    return rules, {rule: too_many(what) for rule, _, _, _, what in PER_ADDRESS}


def _web_acl(logical: str, name: str, scope: str, description: str, rules: list[dict[str, Any]],
             bodies: dict[str, Any], logs_key: str, redacted: tuple[str, ...] = ()) -> dict[str, Any]:
    """A web ACL (`rules`, then AWS's managed known-bad-inputs rules, as they come: Log4j lookups
    and the like, checkov CKV_AWS_192; everything else allowed) and its logs (`aws-waf-logs-*`, the
    name WAF requires; `logs_key`, a year): only the requests a rule blocked or counted, which the
    access logs cannot explain; the Authorization and Cookie headers (and `redacted`) redacted. WAF
    adds the log group's resource policy for its log delivery itself."""
    known_bad_inputs = {
        "Name": "KnownBadInputs", "Priority": len(rules), "OverrideAction": {"None": {}},
        "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS",
                                                    "Name": "AWSManagedRulesKnownBadInputsRuleSet"}},
        "VisibilityConfig": _visibility("KnownBadInputs")}
    return {
        logical: {"Type": "AWS::WAFv2::WebACL", "Properties": {
            "Name": name, "Scope": scope, "Description": description, "DefaultAction": {"Allow": {}},
            "CustomResponseBodies": bodies, "Rules": [*rules, known_bad_inputs],
            "VisibilityConfig": _visibility(name)}},
        f"{logical}Logs": _log_group(f"aws-waf-logs-{name}", key=logs_key),
        # WAF wants the group's ARN without the ":*" that GetAtt Arn ends with.
        f"{logical}Logging": {"Type": "AWS::WAFv2::LoggingConfiguration", "Properties": {
            "ResourceArn": {"Fn::GetAtt": [logical, "Arn"]},
            "LogDestinationConfigs": [{"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                                                  ":log-group:${" + logical + "Logs}"}],
            "RedactedFields": [{"SingleHeader": {"Name": header}}
                               for header in ("authorization", "cookie", *redacted)],
            "LoggingFilter": {"DefaultBehavior": "DROP", "Filters": [{
                "Behavior": "KEEP", "Requirement": "MEETS_ANY",
                "Conditions": [{"ActionCondition": {"Action": "BLOCK"}}, {"ActionCondition": {"Action": "COUNT"}}]}]}}},
    }


def api_firewall(stage: str) -> dict[str, Any]:
    """The REST API stage's web ACL (AWS WAF, regional: the scope an API Gateway stage takes, edge-
    optimized ones included, where WAF still sees the client's own address).

    - Registrations, reset codes and resets per client address (PER_ADDRESS, `per_address_rules`):
      the path WAF sees carries the stage, /api/auth/register, or a custom domain's base path,
      hence "ends with" the route. Requests bearing the origin header's secret (ORIGIN_HEADER)
      are not counted: CloudFront sent them, so their source IP is an edge's, shared by everyone
      behind it; the edge web ACL (`edge_firewall`) has counted them by the viewer's own address.
      Direct callers of the API are counted here by theirs.
    - The known-bad-inputs rules and the logs (`_web_acl`), the origin header redacted too.
    The local stack does not emulate any of this."""
    name = f"ewallet-{stage}-api"
    rules, bodies = per_address_rules(cors_origin={"Fn::Sub": "https://${WebDistribution.DomainName}"},
                                      unless_header=(ORIGIN_HEADER, {"Ref": ORIGIN_SECRET_PARAM}))
    return {
        **_web_acl("ApiFirewall", name, "REGIONAL", f"ewallet {stage} REST API", rules, bodies,
                   logs_key="LogsKey", redacted=(ORIGIN_HEADER,)),
        # `RestAPI.Stage` (SAM's name for the stage it generates) also makes the association wait
        # for the stage, and so for its deployment.
        "ApiFirewallAssociation": {"Type": "AWS::WAFv2::WebACLAssociation", "Properties": {
            "ResourceArn": {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}"
                                       "/stages/${RestAPI.Stage}"},
            "WebACLArn": {"Fn::GetAtt": ["ApiFirewall", "Arn"]}}},
    }


def edge_firewall(stage: str) -> dict[str, Any]:
    """The web distribution's web ACL: a template of its own (`make package` writes it as
    edge-firewall.json), deployed in us-east-1 (EDGE_REGION), the one region where WAF takes the
    CLOUDFRONT scope, before the regional stack, which takes its EdgeWebAclArn output as a
    parameter (EDGE_ACL_PARAM). At the edge WAF sees the viewer's own address: the same
    PER_ADDRESS rules count the web wallet's users there, on the paths as the viewer sends them
    (/api/auth/register: the distribution's /api/* behaviour, API_BEHAVIOR); then the
    known-bad-inputs rules and the logs (`_web_acl`), under a logs key of this stack's (the
    regional stack's may be in another region)."""
    rules, bodies = per_address_rules(WEB_API_PREFIX)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"ewallet {stage}: the web distribution's CLOUDFRONT-scope web ACL (deploy in {EDGE_REGION})",
        "Rules": {"OnlyInUsEast1": {"Assertions": [{
            "Assert": {"Fn::Equals": [{"Ref": "AWS::Region"}, EDGE_REGION]},
            "AssertDescription": f"A CLOUDFRONT-scope web ACL can only be created in {EDGE_REGION}"}]}},
        "Resources": {
            "EdgeLogsKey": _key("Encrypts the e-wallet's edge web ACL logs", LOGS_MAY_ENCRYPT),
            "EdgeLogsKeyAlias": _alias(stage, "edge-logs", "EdgeLogsKey"),
            **_web_acl("EdgeFirewall", f"ewallet-{stage}-edge", "CLOUDFRONT", f"ewallet {stage} web distribution",
                       rules, bodies, logs_key="EdgeLogsKey")},
        "Outputs": {"EdgeWebAclArn": {"Description": f"The regional stack's {EDGE_ACL_PARAM} parameter",
                                      "Value": {"Fn::GetAtt": ["EdgeFirewall", "Arn"]}}},
    }


def _queue(name: str, **props: Any) -> dict[str, Any]:
    """A queue encrypted with our key (MessagesKey): who sends or receives needs the key through
    SQS as well (`_queue_key` in `policies`)."""
    return {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": name, "KmsMasterKeyId": {"Ref": "MessagesKey"},
                                                      **props}}


def merge_template(stage: str) -> dict[str, Any]:
    settings = stage_settings(stage)
    queue = stage_env(stage)["STRIPE_EVENTS_QUEUE_NAME"]
    resources: dict[str, Any] = {
        **kms_keys(stage),
        "StripeEventsDLQ": _queue(f"{queue}-dlq", MessageRetentionPeriod=1209600),
        "StripeEventsQueue": _queue(queue, VisibilityTimeout=360, RedrivePolicy={
            "deadLetterTargetArn": {"Fn::GetAtt": ["StripeEventsDLQ", "Arn"]}, "maxReceiveCount": 5}),
        "NotificationsFailed": _queue(f"ewallet-{stage}-notifications-failed", MessageRetentionPeriod=1209600),
        "NotificationsFailedAlarm": _alarm("Stream records the notifications function could not handle",
                                           "AWS/SQS", "ApproximateNumberOfMessagesVisible",
                                           [{"Name": "QueueName", "Value": f"ewallet-{stage}-notifications-failed"}],
                                           "Maximum", 0),
        # Under our key, whose policy lets CloudWatch publish the alarms (alias/aws/sns does not).
        "AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"ewallet-{stage}-alarms",
                                                                 "KmsMasterKeyId": {"Ref": "MessagesKey"}}},
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
        "RestAPI": rest_api(stage),
        "OperatorPolicy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "Description": f"What the people who run `python -m ops --stage {stage}` need: invoking the admin API",
            "PolicyDocument": operator_policy({"Fn::Sub": ADMIN_ROUTE})}},
        **admin_api(stage),
        **break_glass(stage),
        **audit_trail(stage),
        **api_logging(stage),
        **api_firewall(stage),
        **functions(stage),
        **web_hosting(stage),
    }
    for model in ALL_MODELS:
        resources[table_logical_id(model)] = table_resource(model, settings)
    resources[table_logical_id(AuditRecord)]["Properties"]["ResourcePolicy"] = {
        "PolicyDocument": audit_table_policy(settings)}
    for model in streamed_models():  # every table whose changes notify someone
        resources[stream_mapping_id(model)] = {
            "Type": "AWS::Lambda::EventSourceMapping", "Properties": {
                "EventSourceArn": {"Fn::GetAtt": [table_logical_id(model), "StreamArn"]},
                "FunctionName": {"Ref": "Notifications"}, "StartingPosition": "LATEST", "BatchSize": 100,
                "MaximumRetryAttempts": 10, "BisectBatchOnFunctionError": True,
                # A record still failing after the retries is not dropped silently: its
                # position goes to a queue (alarmed) for a person to replay.
                "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["NotificationsFailed", "Arn"]}}}}}
    resources.update(chain_resources())
    return {"Parameters": parameters(), "Resources": resources, "Outputs": {
        "StripeEventsQueueUrl": {"Value": {"Ref": "StripeEventsQueue"}},
        "SecretsKeyArn": {"Value": {"Fn::GetAtt": ["SecretsKey", "Arn"]}},
        "AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}},
        "OperatorPolicyArn": {"Value": {"Ref": "OperatorPolicy"}},
        "AdminUrl": {"Value": {"Fn::Sub": ADMIN_URL}},
        "BreakGlassRoleArn": {"Value": {"Fn::GetAtt": ["BreakGlassRole", "Arn"]}},
        "WebBucketName": {"Value": {"Ref": "WebBucket"}},
        "WebDistributionId": {"Value": {"Ref": "WebDistribution"}},
        "WebUrl": {"Value": {"Fn::Sub": "https://${WebDistribution.DomainName}"}}}}


def chain_resources() -> dict[str, Any]:
    """The chainer's mapping on the entries stream and the alarms of statements people can
    check (docs/statements.md). The mapping never gives up on a record (a skipped one would be
    an entry outside its chain): a failing batch holds its shard, and the iterator age says so."""
    service = [{"Name": "service", "Value": "ewallet"}]
    return {
        "ChainEntriesStreamMapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "EventSourceArn": {"Fn::GetAtt": [table_logical_id(EntryRecord), "StreamArn"]},
            "FunctionName": {"Ref": "ChainEntries"}, "StartingPosition": "TRIM_HORIZON", "BatchSize": 100,
            "MaximumRetryAttempts": -1, "ParallelizationFactor": 1}},
        "ChainLagAlarm": _alarm("Posted entries wait more than a minute for their chain", "AWS/Lambda",
                                "IteratorAge", [{"Name": "FunctionName", "Value": {"Ref": "ChainEntries"}}],
                                "Maximum", 60000),
        "LedgerChainBrokenAlarm": _alarm("A chain no longer extends the last signed checkpoint (an edit in the tables)",
                                         "ewallet", "LedgerChainBroken", service, "Sum", 0, period=900),
        "LedgerEntryRemovedAlarm": _alarm("A ledger entry was deleted (the service never deletes one)", "ewallet",
                                          "LedgerEntryRemoved", service, "Sum", 0),
    }


# -- IAM ------------------------------------------------------------------------------------------
READ = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"]
WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"]


def table_arn(settings: Settings, model: type[BaseModel]) -> str:
    return f"arn:aws:dynamodb:*:*:table/{settings.table_prefix}{model.table}"


def _tables(settings: Settings) -> list[str]:
    """Every table a function may be given: all but the operators' audit log, which only the
    admin function reads and appends to (`policies`, "admin")."""
    return [table_arn(settings, m) for m in ALL_MODELS if m is not AuditRecord]


def secrets_of(stage: str, *names: str) -> list[dict[str, Any]]:
    """Reading these secrets (default: all of them) and nothing else."""
    env = stage_env(stage)
    return [
        {"Effect": "Allow", "Action": ["ssm:GetParameter"],
         "Resource": [f"arn:aws:ssm:*:*:parameter{env[f'{name}_PARAM']}" for name in names or SECRET_NAMES]},
        # SecureStrings are decrypted by SSM with the stack's secrets key, on the caller's behalf.
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "arn:aws:kms:*:*:key/*",
         "Condition": {"StringLike": {"kms:ViaService": "ssm.*.amazonaws.com"},
                       "ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/ewallet-{stage}-secrets"}}},
    ]


def _queue_key(stage: str, *actions: str) -> dict[str, Any]:
    """The queues' key (MessagesKey), only as SQS uses it on the caller's behalf: sending to an
    encrypted queue takes kms:GenerateDataKey and kms:Decrypt, receiving kms:Decrypt."""
    return {"Effect": "Allow", "Action": list(actions), "Resource": "arn:aws:kms:*:*:key/*",
            "Condition": {"StringLike": {"kms:ViaService": "sqs.*.amazonaws.com"},
                          "ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/ewallet-{stage}-messages"}}}


def policies(stage: str) -> dict[str, dict[str, Any]]:
    settings = stage_settings(stage)
    env = stage_env(stage)
    queue_arn = f"arn:aws:sqs:*:*:{env['STRIPE_EVENTS_QUEUE_NAME']}"
    tables = _tables(settings)
    indexes = [f"{t}/index/*" for t in tables]

    def table(model: type[BaseModel]) -> str:
        return table_arn(settings, model)

    # Into the function's own log group, which the stack creates (with retention and our key):
    # no CreateLogGroup, so a function never makes a group of its own with neither.
    logs = {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "arn:aws:logs:*:*:log-group:/aws/lambda/*"}
    # Traces, when the stage has X-Ray on; X-Ray has no resource-level permissions, hence "*".
    xray = {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"}
    base = [logs, xray] if xray_enabled(stage) else [logs]

    secrets = secrets_of(stage)
    # What building the ledger and identity services reads (no Stripe key, no webhook secret).
    keys = secrets_of(stage, "JWT_PRIVATE_KEY", "DATA_KEY", "BLIND_INDEX_KEY")
    money = {"Effect": "Allow", "Action": [*READ, *WRITE, "dynamodb:TransactWriteItems"],
             "Resource": tables + indexes}
    # Codes and invitations go out by e-mail from the one verified sender, and by SMS: SNS
    # SMS has no topic to name, so Publish cannot be narrowed by resource; a deny on every
    # topic and application endpoint keeps it to direct SMS.
    mail = {"Effect": "Allow", "Action": ["ses:SendEmail"], "Resource": "*",
            "Condition": {"StringEquals": {"ses:FromAddress": env["MAIL_FROM"]}}}
    messages = [
        mail,
        {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": "*"},
        {"Effect": "Deny", "Action": ["sns:Publish"], "Resource": "arn:aws:sns:*:*:*"},
    ]
    # WebSocket connections of this stage (the API's id is not known here), by method: the
    # notifications function posts to them, the API closes those of a revoked session.
    def connections(method: str) -> dict[str, Any]:
        return {"Effect": "Allow", "Action": ["execute-api:ManageConnections"],
                "Resource": f"arn:aws:execute-api:*:*:*/{WS_STAGE}/{method}/@connections/*"}

    out = {
        "api_handler": [*base, money, *secrets, *messages,
                        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": queue_arn},
                        _queue_key(stage, "kms:GenerateDataKey", "kms:Decrypt"), connections("DELETE")],
        "stripe_events": [*base, money, *secrets,
                          {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage",
                                                         "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
                           "Resource": queue_arn},
                          _queue_key(stage, "kms:Decrypt")],
        # Names and notification data are encrypted: the data key, and no other secret.
        "notifications": [*base, *secrets_of(stage, "DATA_KEY"), {
            "Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                                          "dynamodb:ListStreams"],
            "Resource": [f"{table(m)}/stream/*" for m in streamed_models()]},
            {"Effect": "Allow", "Action": ["dynamodb:GetItem"],
             "Resource": [table(UserRecord), table(TransferRecord), table(SessionRecord)]},
            {"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": [table(NotificationRecord)]},
            {"Effect": "Allow", "Action": ["dynamodb:Query", "dynamodb:DeleteItem"],
             "Resource": [table(ConnectionRecord), f"{table(ConnectionRecord)}/index/*"]},
            connections("POST"),
            # The e-mail of a sign-in from a new device, from the one verified sender (no SMS).
            mail,
            # Where the stream mappings put a batch that keeps failing (their on-failure destination),
            # sent with this function's role.
            {"Effect": "Allow", "Action": ["sqs:SendMessage"],
             "Resource": f"arn:aws:sqs:*:*:ewallet-{stage}-notifications-failed"},
            _queue_key(stage, "kms:GenerateDataKey", "kms:Decrypt")],
        # The token of a connection is checked like an HTTP call's (its session must be live).
        "websocket_connect": [*base, *keys,
                              {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": [table(SessionRecord)]},
                              {"Effect": "Allow", "Action": ["dynamodb:PutItem"],
                               "Resource": [table(ConnectionRecord)]}],
        "websocket_message": [*base],
        "websocket_disconnect": [*base, {"Effect": "Allow", "Action": ["dynamodb:DeleteItem"],
                                         "Resource": [table(ConnectionRecord)]}],
        "reconcile": [*base, *secrets,
                      {"Effect": "Allow", "Action": [*READ, "dynamodb:Scan"], "Resource": tables + indexes}],
        "resume_withdrawals": [*base, *secrets,
                               {"Effect": "Allow", "Action": [*READ, *WRITE, "dynamodb:Scan",
                                                              "dynamodb:TransactWriteItems"],
                                "Resource": tables + indexes}],
        "sweep_invitations": [*base, money, *secrets],
        "expire_payment_requests": [*base, *secrets_of(stage, "DATA_KEY", "BLIND_INDEX_KEY"), {
            "Effect": "Allow", "Action": ["dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:TransactWriteItems"],
            "Resource": [table(PaymentRequestRecord), f"{table(PaymentRequestRecord)}/index/*"]}],
        # Closes accounts nobody verified a contact of in 7 days (services.closing): finds them
        # in the users' sparse index, checks their wallets hold nothing, closes each in one
        # transaction with its e-mail identity, ends its logins and closes their WebSockets.
        # The data and blind-index keys: the e-mail's identity key is its blind index.
        "close_unverified_accounts": [*base, *secrets_of(stage, "DATA_KEY", "BLIND_INDEX_KEY"), {
            "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem",
                                          "dynamodb:TransactWriteItems"],
            "Resource": [table(UserRecord), f"{table(UserRecord)}/index/*"]},
            {"Effect": "Allow", "Action": ["dynamodb:DeleteItem"], "Resource": [table(IdentityRecord)]},
            # The status every payment checks, written `closed` in the same transaction.
            {"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": [table(AccountStatusRecord)]},
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:TransactGetItems"],
             "Resource": [table(WalletRecord), f"{table(WalletRecord)}/index/*"]},
            {"Effect": "Allow", "Action": ["dynamodb:Query", "dynamodb:UpdateItem"],
             "Resource": [table(SessionRecord), f"{table(SessionRecord)}/index/*"]},
            {"Effect": "Allow", "Action": ["dynamodb:Query", "dynamodb:DeleteItem"],
             "Resource": [table(ConnectionRecord), f"{table(ConnectionRecord)}/index/*"]},
            connections("DELETE")],
        # Voids what is left of expired allowances: the ledger's items, and no secret at all.
        "release_allowances": [*base, {
            "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem",
                                          "dynamodb:TransactWriteItems"],
            "Resource": [table(AllowanceRecord), f"{table(AllowanceRecord)}/index/*", table(TransferRecord),
                         table(WalletRecord), table(EntryRecord), table(DailyTotalRecord)]}],
        # The ECB's reference rates into the rates table (docs/exchange.md): an HTTPS GET of a
        # public file (no key, no secret), and the one table.
        "fetch_fx_rates": [*base, {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                                   "Resource": [table(FxRatesRecord)]}],
        # The chainer (docs/statements.md): the entries stream in; each entry's link and the chain's
        # head out, in one transaction. No secret: a hash needs no key.
        "chain_entries": [*base, {
            "Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                                          "dynamodb:ListStreams"], "Resource": [f"{table(EntryRecord)}/stream/*"]},
            {"Effect": "Allow", "Action": ["dynamodb:UpdateItem", "dynamodb:TransactWriteItems"],
             "Resource": [table(EntryRecord)]},
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:TransactWriteItems"],
             "Resource": [table(ChainHeadRecord)]}],
        # Signs a Merkle root over every chain head: reads heads and new links, writes the
        # checkpoint; the ledger key and no other secret.
        "checkpoint_ledger": [*base, *secrets_of(stage, "LEDGER_SIGNING_KEY"), {
            "Effect": "Allow", "Action": ["dynamodb:Scan"], "Resource": [table(ChainHeadRecord)]},
            {"Effect": "Allow", "Action": ["dynamodb:Query"], "Resource": [f"{table(EntryRecord)}/index/*"]},
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
                                           "dynamodb:BatchWriteItem"], "Resource": [table(CheckpointRecord)]}],
        # The operators' commands (chalicelib/api/admin.py): read and change the ledger through
        # the same services (never a delete: every change is a new fact), scans for a person's
        # reports; the only function that reaches the audit log: a new record (put, in the
        # transaction of its change) and reading it. The data and blind-index keys for a
        # person's profile and an e-mail look-up, the Stripe key for resolving a payout and
        # comparing top-ups; no token key, no webhook secret.
        "admin": [*base, {"Effect": "Allow", "Action": ADMIN_TABLES, "Resource": tables + indexes},
                  {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:Query"],
                   "Resource": [table(AuditRecord)]},
                  # The ledger key: verify-ledger checks every checkpoint's signature.
                  *secrets_of(stage, "DATA_KEY", "BLIND_INDEX_KEY", "STRIPE_API_KEY", "LEDGER_SIGNING_KEY")],
    }
    return {fn: {"Version": "2012-10-17", "Statement": statements} for fn, statements in out.items()}


# What the admin function may do to the ledger's tables (and the break-glass role, by hand): read,
# and change through the ops commands (which write conditionally, often in a transaction); never
# delete an item, never touch a table's settings.
ADMIN_TABLES = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:PutItem",
                "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem", "dynamodb:TransactWriteItems",
                "dynamodb:TransactGetItems"]
# What the audit table refuses to everyone, whatever their own policies say: it is append-only.
# PutItem is refused too, to everyone but the admin function's role (`audit_table_policy`): a
# record is written new, on the condition that it does not exist yet, only in the transaction of
# the change it describes.
AUDIT_DENIED = ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLUpdate",
                "dynamodb:PartiQLDelete", "dynamodb:DeleteTable"]
ADMIN_STAGE = "ops"  # the admin API's one stage: ADMIN_URL ends with it
# The admin API's one route, as execute-api:Invoke names it: POST /commands/{name} on its stage.
ADMIN_ROUTE = ("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${AdminApi}/" + ADMIN_STAGE
               + "/POST/commands/*")
ADMIN_URL = "https://${AdminApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/" + ADMIN_STAGE
# Who called: the caller's verified ARN is the point of this API's access log.
ADMIN_ACCESS_LOG = json.dumps({
    "requestId": "$context.requestId", "time": "$context.requestTime", "method": "$context.httpMethod",
    "path": "$context.resourcePath", "status": "$context.status", "latencyMs": "$context.responseLatency",
    "caller": "$context.identity.userArn", "sourceIp": "$context.identity.sourceIp"}, separators=(",", ":"))
TRAIL_NAME = "ewallet-{stage}-audit"


def role_logical_id(fn: str) -> str:
    """The logical id Chalice gives a function's own role (its `<name>_role`, camel-cased)."""
    return _camel(f"{fn}_role")


def operator_policy(admin_route: Any) -> dict[str, Any]:
    """OperatorPolicy: for the people who run `python -m ops` with their own IAM credentials
    (attach it to their group or role): invoking the admin API's route, and nothing else. No
    table, no secret, no key: every read and change goes through the admin function, which
    records the verified caller (docs/operations.md). `admin_route` is the route's ARN pattern
    (a Fn::Sub of ADMIN_ROUTE here; a plain ARN for the local stack's IAM, devstack/operators.py)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "InvokeTheAdminApi", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": admin_route}]}


def audit_table_policy(settings: Settings) -> dict[str, Any]:
    """The audit table's resource-based policy: nobody, whatever IAM gives them (an administrator,
    a function given too much by mistake), may change or delete a record or the table, and
    nobody but the admin function's role may add one. The table cannot name itself with GetAtt
    in its own policy, hence its ARN built from its name."""
    arn = {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"
                      + settings.table_prefix + AuditRecord.table}
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "AppendOnly", "Effect": "Deny", "Principal": "*", "Action": AUDIT_DENIED, "Resource": arn},
        {"Sid": "OnlyTheAdminFunctionAppends", "Effect": "Deny", "Principal": "*", "Action": ["dynamodb:PutItem"],
         "Resource": arn, "Condition": {"ArnNotEquals": {
             "aws:PrincipalArn": {"Fn::GetAtt": [role_logical_id("admin"), "Arn"]}}}}]}


def admin_api(stage: str) -> dict[str, Any]:
    """The operators' admin API: a REST API of its own whose one method, POST /commands/{name},
    takes only Signature V4 (AWS_IAM authorization) and hands the request to the admin function
    with the caller API Gateway verified (chalicelib/api/admin.py). API Gateway answers 403
    itself, before the function runs, to an unsigned or forged request and to a caller without
    execute-api:Invoke on the route (OperatorPolicy). Throttled low (people, not programs),
    access-logged with the caller's ARN, traced as the stage's `xray` says."""
    invoke = "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Admin.Arn}/invocations"
    api = {"Ref": "AdminApi"}
    return {
        "AdminApi": {"Type": "AWS::ApiGateway::RestApi", "Properties": {
            "Name": f"ewallet-{stage}-admin", "Description": "The operators' commands (python -m ops), AWS_IAM only",
            "EndpointConfiguration": {"Types": ["REGIONAL"]}}},
        "AdminApiCommands": {"Type": "AWS::ApiGateway::Resource", "Properties": {
            "RestApiId": api, "ParentId": {"Fn::GetAtt": ["AdminApi", "RootResourceId"]}, "PathPart": "commands"}},
        "AdminApiCommand": {"Type": "AWS::ApiGateway::Resource", "Properties": {
            "RestApiId": api, "ParentId": {"Ref": "AdminApiCommands"}, "PathPart": "{name}"}},
        "AdminApiCommandPost": {"Type": "AWS::ApiGateway::Method", "Properties": {
            "RestApiId": api, "ResourceId": {"Ref": "AdminApiCommand"}, "HttpMethod": "POST",
            "AuthorizationType": "AWS_IAM", "RequestParameters": {"method.request.path.name": True},
            "Integration": {"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST", "Uri": {"Fn::Sub": invoke}}}},
        "AdminApiDeployment": {"Type": "AWS::ApiGateway::Deployment", "DependsOn": ["AdminApiCommandPost"],
                               "Properties": {"RestApiId": api, "Description": "The admin API's one route"}},
        "AdminApiAccessLogs": _log_group(f"/ewallet/{stage}/admin-access", depends_on="ApiGatewayAccount"),
        "AdminApiStage": {"Type": "AWS::ApiGateway::Stage", "Metadata": _skips(
            CKV_AWS_120="Every answer is one person's command, read once: there is nothing to cache"),
            "Properties": {
                "RestApiId": api, "DeploymentId": {"Ref": "AdminApiDeployment"}, "StageName": ADMIN_STAGE,
                "TracingEnabled": xray_enabled(stage),
                "AccessLogSetting": {"DestinationArn": {"Fn::GetAtt": ["AdminApiAccessLogs", "Arn"]},
                                     "Format": ADMIN_ACCESS_LOG},
                "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": 5,
                                    "ThrottlingBurstLimit": 10, "MetricsEnabled": True}]}},
        "AdminApiInvokesAdmin": {"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction", "FunctionName": {"Ref": "Admin"},
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${AdminApi}/*"
                                     "/POST/commands/*"}}},
    }


def break_glass(stage: str) -> dict[str, Any]:
    """BreakGlassRole: direct access to the data, for when the admin API cannot do what must be
    done (docs/operations.md, "Break glass"). Assumed only by a person of this account whose own
    policy allows it, signed in with MFA in the last hour, for at most an hour. It reads and
    changes the ledger's tables as the admin function does, reads the audit log (never writes
    it: the table's own policy refuses) and the stage's secrets. CloudTrail records its every
    call (`audit_trail`) and an alarm reports its use."""
    settings = stage_settings(stage)
    tables = _tables(settings)
    return {"BreakGlassRole": {"Type": "AWS::IAM::Role", "Properties": {
        "Description": f"ewallet {stage}: direct data access, alarmed (docs/operations.md, Break glass)",
        "MaxSessionDuration": 3600,
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"},
                          "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}}]},
        "Policies": [{"PolicyName": "break-glass", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Sid": "Tables", "Effect": "Allow", "Action": ADMIN_TABLES,
             "Resource": tables + [f"{t}/index/*" for t in tables]},
            {"Sid": "ReadTheAudit", "Effect": "Allow", "Action": ["dynamodb:Query"],
             "Resource": [table_arn(settings, AuditRecord)]},
            *secrets_of(stage)]}}]}}}


# CloudTrail writes the trail's files with our key, only for this account's trails.
CLOUDTRAIL_MAY_ENCRYPT = [
    {"Sid": "CloudTrailEncrypt", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
     "Action": "kms:GenerateDataKey*", "Resource": "*", "Condition": {"StringLike": {
         "kms:EncryptionContext:aws:cloudtrail:arn": {
             "Fn::Sub": "arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*"}}}},
    {"Sid": "CloudTrailDescribe", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
     "Action": "kms:DescribeKey", "Resource": "*"}]


def audit_trail(stage: str) -> dict[str, Any]:
    """A CloudTrail trail that records who touched the data outside the app, and alarms.

    - Management events, read and write, in every region: among them every `sts:AssumeRole`
      (the break-glass role's included), every `ssm:GetParameter` of a secret and every
      `kms:Decrypt` (SSM parameters and KMS calls are management events: CloudTrail has no data
      events for SSM parameters or KMS keys, and logs these already).
    - Data events on the stage's tables (item-level GetItem, Query, Scan, PutItem, ...), for
      every caller but the app's own functions (their traffic is the product's, and each is
      bounded by its own policy); the admin function is kept: its reads and changes are a
      person's, recorded here besides its own audit log.
    - Files in a private, versioned bucket, encrypted with a key of ours, with digest files
      (log file validation); a copy in a log group for the metric filters and their alarms:
      `BreakGlassUseAlarm` (the role assumed, or any call with its session) and
      `DirectTableAccessAlarm` (any item read or written outside the app's functions).
    """
    settings = stage_settings(stage)
    name = TRAIL_NAME.format(stage=stage)
    trail_arn = {"Fn::Sub": "arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/" + name}
    cloudtrail = {"Service": "cloudtrail.amazonaws.com"}
    functions_ = [{"Fn::Sub": "arn:${AWS::Partition}:sts::${AWS::AccountId}:assumed-role/${" + role_logical_id(fn)
                               + "}/"} for fn in FUNCTIONS if fn != "admin"]
    tables = {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"
                         + settings.table_prefix}
    break_glass_used = ('{ (($.eventName = "AssumeRole") && ($.requestParameters.roleArn = "${BreakGlassRole.Arn}")) '
                        '|| ($.userIdentity.sessionContext.sessionIssuer.arn = "${BreakGlassRole.Arn}") }')
    # The admin function's own item events are in the trail too, but they are the audited path.
    direct_access = ('{ ($.eventSource = "dynamodb.amazonaws.com") && ($.eventCategory = "Data") && '
                     '($.userIdentity.sessionContext.sessionIssuer.arn != "${' + role_logical_id("admin") + '.Arn}") }')

    def metric_filter(pattern: Any, metric: str) -> dict[str, Any]:
        return {"Type": "AWS::Logs::MetricFilter", "Properties": {
            "LogGroupName": {"Ref": "TrailLogs"}, "FilterPattern": pattern,
            "MetricTransformations": [{"MetricNamespace": "ewallet", "MetricName": metric, "MetricValue": "1",
                                       "DefaultValue": 0}]}}

    return {
        "TrailKey": _key("Encrypts the e-wallet's CloudTrail files", *CLOUDTRAIL_MAY_ENCRYPT),
        "TrailKeyAlias": _alias(stage, "trail", "TrailKey"),
        **_private_bucket(
            "TrailBucket", ownership="BucketOwnerEnforced",
            skip="Written only by CloudTrail, whose own records (and digest files) say what was written",
            allow=({"Sid": "CloudTrailAclCheck", "Effect": "Allow", "Principal": cloudtrail,
                    "Action": "s3:GetBucketAcl", "Resource": {"Fn::GetAtt": ["TrailBucket", "Arn"]},
                    "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}}},
                   {"Sid": "CloudTrailWrite", "Effect": "Allow", "Principal": cloudtrail, "Action": "s3:PutObject",
                    "Resource": {"Fn::Sub": "${TrailBucket.Arn}/AWSLogs/${AWS::AccountId}/*"},
                    "Condition": {"StringEquals": {"aws:SourceArn": trail_arn,
                                                   "s3:x-amz-acl": "bucket-owner-full-control"}}}),
            LifecycleConfiguration={"Rules": [{
                "Id": "ExpireTrail", "Status": "Enabled", "ExpirationInDays": LOG_RETENTION_DAYS,
                "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]}),
        "TrailLogs": _log_group(f"/ewallet/{stage}/cloudtrail"),
        "TrailLogsRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": cloudtrail, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}}}]},
            "Policies": [{"PolicyName": "deliver-to-the-log-group", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": {"Fn::GetAtt": ["TrailLogs", "Arn"]}}]}}]}},
        "AuditTrail": {"Type": "AWS::CloudTrail::Trail", "DependsOn": ["TrailBucketPolicy"], "Properties": {
            "TrailName": name, "IsLogging": True, "IsMultiRegionTrail": True, "IncludeGlobalServiceEvents": True,
            "EnableLogFileValidation": True, "S3BucketName": {"Ref": "TrailBucket"},
            "KMSKeyId": {"Fn::GetAtt": ["TrailKey", "Arn"]},
            "CloudWatchLogsLogGroupArn": {"Fn::GetAtt": ["TrailLogs", "Arn"]},
            "CloudWatchLogsRoleArn": {"Fn::GetAtt": ["TrailLogsRole", "Arn"]},
            "AdvancedEventSelectors": [
                {"Name": "Management events: AssumeRole, SSM GetParameter, KMS Decrypt among them",
                 "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
                {"Name": "Items of the stage's tables, touched by anyone but the app's functions",
                 "FieldSelectors": [
                     {"Field": "eventCategory", "Equals": ["Data"]},
                     {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Table"]},
                     {"Field": "resources.ARN", "StartsWith": [tables]},
                     {"Field": "userIdentity.arn", "NotStartsWith": functions_}]}]}},
        "BreakGlassUseFilter": metric_filter({"Fn::Sub": break_glass_used}, "BreakGlassUse"),
        "BreakGlassUseAlarm": _alarm("The break-glass role was assumed or used: someone has direct access to the "
                                     "data (docs/operations.md, Break glass)", "ewallet", "BreakGlassUse", [],
                                     "Sum", 0),
        "DirectTableAccessFilter": metric_filter({"Fn::Sub": direct_access}, "DirectTableAccess"),
        "DirectTableAccessAlarm": _alarm("A table's items were read or written outside the app's functions",
                                         "ewallet", "DirectTableAccess", [], "Sum", 0),
    }


def override(template: dict[str, Any]) -> dict[str, Any]:
    """What a merge cannot express (it merges dictionaries, it never replaces one): Chalice
    names the queue of the SQS event source by a string, so CloudFormation would not know to
    create the queue first; point it at the queue resource instead."""
    source = template["Resources"]["StripeEvents"]["Properties"]["Events"]["StripeEventsSqsEventSource"]
    source["Properties"]["Queue"] = {"Fn::GetAtt": ["StripeEventsQueue", "Arn"]}
    return template
