"""What the account-safety contract (issue 26) asks of the template rather than of the app.

- Registrations per client address are limited at the edge: an AWS WAF rate-based rule on the
  REST API's stage, 20 per address per 5 minutes on `POST /auth/register`, answered with the API's
  429 `too_many_requests`; the web ACL is associated with the stage and logs what it blocks.
- So are password-reset codes and resets (review 26, F3): 10 per address per 5 minutes each on
  `POST /auth/password/forgot` and `POST /auth/password/reset`, so that one address cannot use
  up an e-mail's 5 codes an hour and burn each of them with wrong tries.
- A revoked session's WebSockets are closed by the API: it may DELETE @connections (and only
  that), at the management endpoint the notifications function pushes to.
- The notifications function e-mails a sign-in from a new device: SES, from the one sender.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from deploy.template import FUNCTIONS, LOG_RETENTION_DAYS, policies, stage_env
from tests.deploy.waf import LIMITS
from tests.deploy.waf import matches as _matches
from tests.deploy.waf import of_type as _of_type
from tests.deploy.waf import rate_rule as _rate_rule
from tests.deploy.waf import rate_rules as _rate_rules


def _web_acl(t: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    acls = _of_type(t, "AWS::WAFv2::WebACL")
    assert len(acls) == 1, list(acls)
    name, acl = next(iter(acls.items()))
    return name, acl["Properties"]


@pytest.mark.parametrize(("path", "limit", "window"), LIMITS)
def test_registrations_and_password_resets_are_limited_per_client_address_at_the_edge(package, path, limit, window):
    _, t = package
    _, acl = _web_acl(t)
    assert acl["Scope"] == "REGIONAL" and acl["DefaultAction"] == {"Allow": {}}
    assert len(_rate_rules(acl)) == len(LIMITS)
    rule = _rate_rule(acl, path)
    rate = rule["Statement"]["RateBasedStatement"]
    # So many per address per 5 minutes, counted on the connection's address: never on a
    # header (X-Forwarded-For), which the client would choose.
    assert (rate["Limit"], rate["EvaluationWindowSec"], rate["AggregateKeyType"]) == (limit, window, "IP")
    assert "ForwardedIPConfig" not in rate and "CustomKeys" not in rate
    # Over the limit: blocked with the API's own 429, readable by the web wallet (CORS).
    response = rule["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    body = acl["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert body["ContentType"] == "APPLICATION_JSON"
    assert json.loads(body["Content"])["error"]["code"] == "too_many_requests"
    headers = {h["Name"]: h["Value"] for h in response["ResponseHeaders"]}
    assert headers["Retry-After"] == str(window)
    # (The web wallet now calls the API under its own origin, /api/*, where these are not needed.)
    assert headers["Access-Control-Allow-Origin"] == {"Fn::Sub": "https://${WebDistribution.DomainName}"}
    assert "Retry-After" in headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize("guarded", [path for path, _, _ in LIMITS])
def test_only_its_own_route_counts_against_each_limit(package, guarded):
    """The path WAF sees is the request's: the stage first on the execute-api address
    (/api/auth/register), none or a base path on a custom domain."""
    _, t = package
    _, acl = _web_acl(t)
    scope = _rate_rule(acl, guarded)["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
    api = t["Resources"]["RestAPI"]["Properties"]
    assert "post" in api["DefinitionBody"]["paths"][guarded]  # the route it guards exists
    stage = api["StageName"]
    head, last = guarded.rsplit("/", 1)
    # However the client spells it: case, escapes, slashes, dot segments.
    for path in (f"/{stage}{guarded}", guarded, f"/v1{guarded}", f"/{stage}{guarded.upper()}",
                 f"/{stage}{head}/{last[:-1]}%{ord(last[-1]):02x}", f"/{stage}{guarded}/", f"/{stage}{head}//{last}",
                 f"/{stage}{head}/./{last}", f"/{stage}/me/..{guarded}", f"/{stage}{head}%2F{last}"):
        assert _matches(scope, "POST", path), path
    others = [p for p, _, _ in LIMITS if p != guarded]
    for method, path in (("POST", f"/{stage}/auth/login"), ("POST", f"/{stage}{guarded}/x"),
                         ("POST", f"/{stage}{guarded}ed"), ("POST", f"/{stage}/me"),
                         *(("POST", f"/{stage}{other}") for other in others),
                         # the browser's preflight is not one
                         ("OPTIONS", f"/{stage}{guarded}"), ("GET", f"/{stage}{guarded}")):
        assert not _matches(scope, method, path), (method, path)


def test_the_web_acl_guards_the_rest_api_stage_and_logs_what_it_blocks(package):
    _, t = package
    name, acl = _web_acl(t)
    # AWS's known-bad-inputs rules (Log4j lookups), not overridden to count (checkov CKV_AWS_192).
    managed = [r for r in acl["Rules"] if "ManagedRuleGroupStatement" in r["Statement"]]
    assert [r["Statement"]["ManagedRuleGroupStatement"]["Name"] for r in managed] == [
        "AWSManagedRulesKnownBadInputsRuleSet"]
    assert managed[0]["OverrideAction"] == {"None": {}}
    assert len({r["Priority"] for r in acl["Rules"]}) == len(acl["Rules"])

    (association,) = _of_type(t, "AWS::WAFv2::WebACLAssociation").values()
    props = association["Properties"]
    assert props["WebACLArn"] == {"Fn::GetAtt": [name, "Arn"]}
    # The REST API's stage; `RestAPI.Stage` is SAM's reference to the stage it generates, which
    # also orders the association after it.
    assert props["ResourceArn"] == {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/"
                                               "${RestAPI}/stages/${RestAPI.Stage}"}

    (logging,) = _of_type(t, "AWS::WAFv2::LoggingConfiguration").values()
    props = logging["Properties"]
    assert props["ResourceArn"] == {"Fn::GetAtt": [name, "Arn"]}
    (destination,) = props["LogDestinationConfigs"]
    group = destination["Fn::Sub"].rsplit(":log-group:${", 1)[1].rstrip("}")  # no ":*": WAF refuses it
    log_group = t["Resources"][group]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["LogGroupName"].startswith("aws-waf-logs-")  # WAF's required prefix
    assert log_group["Properties"]["RetentionInDays"] == LOG_RETENTION_DAYS
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["LogsKey", "Arn"]}
    # Credentials never reach the logs; what a rule blocked is kept.
    redacted = {f["SingleHeader"]["Name"].lower() for f in props["RedactedFields"] if "SingleHeader" in f}
    assert {"authorization", "cookie"} <= redacted
    kept = [c["ActionCondition"]["Action"] for f in props["LoggingFilter"]["Filters"] if f["Behavior"] == "KEEP"
            for c in f["Conditions"]]
    assert "BLOCK" in kept


def _statements(fn: str, action: str) -> list[dict[str, Any]]:
    return [s for s in policies("prod")[fn]["Statement"] if action in s["Action"] and s["Effect"] == "Allow"]


def test_the_api_may_close_websocket_connections_and_nothing_more(package):
    _, t = package
    (grant,) = _statements("api_handler", "execute-api:ManageConnections")
    assert grant["Action"] == ["execute-api:ManageConnections"]
    assert grant["Resource"] == "arn:aws:execute-api:*:*:*/api/DELETE/@connections/*"
    (push,) = _statements("notifications", "execute-api:ManageConnections")
    assert push["Resource"] == "arn:aws:execute-api:*:*:*/api/POST/@connections/*"
    # Closing an account nobody verified ends its logins, their WebSockets too: close, never push.
    (close,) = _statements("close_unverified_accounts", "execute-api:ManageConnections")
    assert close["Resource"] == grant["Resource"]
    assert all(not _statements(fn, "execute-api:ManageConnections") for fn in FUNCTIONS
               if fn not in ("api_handler", "notifications", "close_unverified_accounts"))
    # The same management endpoint as the notifications function's, on the WebSocket API's stage.
    variables = {fn: t["Resources"][fn]["Properties"]["Environment"]["Variables"] for fn in ("APIHandler",
                                                                                           "Notifications")}
    endpoint = variables["APIHandler"]["WS_MANAGEMENT_ENDPOINT"]
    assert endpoint == variables["Notifications"]["WS_MANAGEMENT_ENDPOINT"]
    assert endpoint["Fn::Sub"].endswith("/" + t["Resources"]["WebsocketAPIStage"]["Properties"]["StageName"])


def test_the_notifications_function_may_email_only_from_the_verified_sender():
    (mail,) = _statements("notifications", "ses:SendEmail")
    assert mail["Condition"] == {"StringEquals": {"ses:FromAddress": stage_env("prod")["MAIL_FROM"]}}
    assert [mail] == _statements("api_handler", "ses:SendEmail")  # the API's own grant, no wider
    assert not _statements("notifications", "sns:Publish")  # e-mail only, no SMS
