"""The web wallet's requests are counted per person, not per CloudFront edge.

The page calls the API through its own distribution (/api/*), so the REST API's regional web ACL
sees an edge's address as the source of every web-wallet request. Hence:
- a CLOUDFRONT-scope web ACL on the distribution (a stack of its own, in us-east-1:
  edge-firewall.json) counts the same PER_ADDRESS routes per viewer address, on the paths as the
  viewer sends them (/api/auth/register);
- CloudFront sends the API a secret origin header, and the regional rules do not count the
  requests bearing it (they were counted at the edge), while direct callers still are, by their
  own address;
- the secret is a NoEcho stack parameter: never a literal in the template or the repository.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.api.refresh_cookie import WEB_API_PREFIX
from deploy.template import (
    EDGE_ACL_PARAM,
    EDGE_REGION,
    LOG_RETENTION_DAYS,
    ORIGIN_HEADER,
    ORIGIN_SECRET_PARAM,
    PER_ADDRESS,
    edge_firewall,
    merge_template,
)
from tests.deploy.waf import LIMITS, matches, of_type, rate_rule, rate_rules

ROOT = Path(__file__).resolve().parents[2]
SECRET = "0123456789abcdef" * 4  # a value the operator might choose, for evaluating the rules only


@pytest.fixture(scope="module")
def edge() -> dict[str, Any]:
    return edge_firewall("prod")


def _acl(t: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((name, acl),) = of_type(t, "AWS::WAFv2::WebACL").items()
    return name, acl["Properties"]


def _distribution(t: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = t["Resources"]["WebDistribution"]["Properties"]["DistributionConfig"]
    return config


@pytest.mark.parametrize(("path", "limit", "window"), LIMITS)
def test_the_edge_acl_counts_the_api_routes_per_viewer_address(edge, path, limit, window):
    _, acl = _acl(edge)
    assert acl["Scope"] == "CLOUDFRONT" and acl["DefaultAction"] == {"Allow": {}}
    assert len(rate_rules(acl)) == len(PER_ADDRESS) == len(LIMITS)
    rule = rate_rule(acl, path)
    rate = rule["Statement"]["RateBasedStatement"]
    # The viewer's own address (at the edge the connection is the viewer's), never a header.
    assert (rate["Limit"], rate["EvaluationWindowSec"], rate["AggregateKeyType"]) == (limit, window, "IP")
    assert "ForwardedIPConfig" not in rate and "CustomKeys" not in rate
    scope = rate["ScopeDownStatement"]
    # The path as the viewer sends it to the distribution, however spelled; the viewer may send
    # any header at all, the origin header included: nothing exempts a request here.
    head, last = path.rsplit("/", 1)
    for spelled in (f"{WEB_API_PREFIX}{path}", f"{WEB_API_PREFIX}{path}/", f"{WEB_API_PREFIX}{path.upper()}",
                    f"{WEB_API_PREFIX}{head}//{last}", f"{WEB_API_PREFIX}/me/..{path}",
                    f"{WEB_API_PREFIX}{head}%2F{last}"):
        assert matches(scope, "POST", spelled), spelled
        assert matches(scope, "POST", spelled, {ORIGIN_HEADER: SECRET}, {ORIGIN_SECRET_PARAM: SECRET}), spelled
    others = [p for p, _, _ in LIMITS if p != path]
    for method, other in (("GET", f"{WEB_API_PREFIX}{path}"), ("OPTIONS", f"{WEB_API_PREFIX}{path}"),
                          ("POST", f"{WEB_API_PREFIX}/auth/login"), ("POST", f"{WEB_API_PREFIX}{path}/x"),
                          *(("POST", f"{WEB_API_PREFIX}{o}") for o in others),
                          ("POST", path)):  # outside /api/* the distribution serves files, not the API
        assert not matches(scope, method, other), (method, other)
    # The API's own 429, with its Retry-After; the page reads it under its own origin: no CORS.
    response = rule["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    assert {h["Name"]: h["Value"] for h in response["ResponseHeaders"]} == {"Retry-After": str(window)}
    assert json.loads(acl["CustomResponseBodies"][response["CustomResponseBodyKey"]]["Content"])["error"][
        "code"] == "too_many_requests"


def test_the_edge_and_regional_rules_are_one_implementation(edge):
    _, at_edge = _acl(edge)
    _, regional = _acl(merge_template("prod"))
    assert at_edge["CustomResponseBodies"] == regional["CustomResponseBodies"]
    for ours, theirs in zip(rate_rules(at_edge), rate_rules(regional), strict=True):
        assert ours["Name"] == theirs["Name"] and ours["Priority"] == theirs["Priority"]
        for key in ("Limit", "EvaluationWindowSec", "AggregateKeyType"):
            assert ours["Statement"]["RateBasedStatement"][key] == theirs["Statement"]["RateBasedStatement"][key]
    managed = [r["Statement"]["ManagedRuleGroupStatement"]["Name"] for r in at_edge["Rules"]
               if "ManagedRuleGroupStatement" in r["Statement"]]
    assert managed == ["AWSManagedRulesKnownBadInputsRuleSet"]


def test_the_edge_stack_is_for_us_east_1_logs_what_it_blocks_and_outputs_its_arn(edge):
    name, _ = _acl(edge)
    (assertion,) = edge["Rules"]["OnlyInUsEast1"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, EDGE_REGION]} and EDGE_REGION == "us-east-1"
    assert edge["Outputs"][EDGE_ACL_PARAM]["Value"] == {"Fn::GetAtt": [name, "Arn"]}
    (logging,) = of_type(edge, "AWS::WAFv2::LoggingConfiguration").values()
    props = logging["Properties"]
    assert props["ResourceArn"] == {"Fn::GetAtt": [name, "Arn"]}
    (destination,) = props["LogDestinationConfigs"]
    group = edge["Resources"][destination["Fn::Sub"].rsplit(":log-group:${", 1)[1].rstrip("}")]["Properties"]
    assert group["LogGroupName"].startswith("aws-waf-logs-") and group["RetentionInDays"] == LOG_RETENTION_DAYS
    # Its own stack's key: the regional stack's logs key may be in another region.
    key = group["KmsKeyId"]["Fn::GetAtt"][0]
    assert edge["Resources"][key]["Type"] == "AWS::KMS::Key" and edge["Resources"][key]["Properties"][
        "EnableKeyRotation"]
    assert {"authorization", "cookie"} <= {f["SingleHeader"]["Name"] for f in props["RedactedFields"]}
    assert "Parameters" not in edge  # nothing to pass it: deployed first, on its own


def test_the_distribution_uses_the_edge_acl_named_by_a_parameter():
    t = merge_template("prod")
    assert _distribution(t)["WebACLId"] == {"Ref": EDGE_ACL_PARAM}
    pattern = re.compile(t["Parameters"][EDGE_ACL_PARAM]["AllowedPattern"])
    assert pattern.match("arn:aws:wafv2:us-east-1:123456789012:global/webacl/ewallet-prod-edge/a1b2c3")
    assert not pattern.match("arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/ewallet-prod-api/a1b2c3")
    skipped = [s["id"] for s in t["Resources"]["WebDistribution"].get("Metadata", {}).get("checkov", {}).get(
        "skip", [])]
    assert "CKV_AWS_68" not in skipped  # it has a web ACL now


def test_cloudfront_sends_the_api_the_origin_header_with_the_secret_parameter(package):
    _, t = package
    config = _distribution(t)
    api = next(o for o in config["Origins"] if o["Id"] == config["CacheBehaviors"][0]["TargetOriginId"])
    assert api["OriginCustomHeaders"] == [{"HeaderName": ORIGIN_HEADER, "HeaderValue": {"Ref": ORIGIN_SECRET_PARAM}}]
    web = next(o for o in config["Origins"] if o["Id"] == config["DefaultCacheBehavior"]["TargetOriginId"])
    assert "OriginCustomHeaders" not in web  # the bucket has no use for it
    assert config["WebACLId"] == {"Ref": EDGE_ACL_PARAM}


@pytest.mark.parametrize(("path", "limit", "window"), LIMITS)
def test_the_regional_rules_skip_requests_that_came_through_cloudfront(package, path, limit, window):
    _, t = package
    _, acl = _acl(t)
    rate = rate_rule(acl, path)["Statement"]["RateBasedStatement"]
    assert (rate["Limit"], rate["EvaluationWindowSec"], rate["AggregateKeyType"]) == (limit, window, "IP")
    scope = rate["ScopeDownStatement"]
    stage_path = f"/{t['Resources']['RestAPI']['Properties']['StageName']}{path}"
    secret = {ORIGIN_SECRET_PARAM: SECRET}
    # Through CloudFront (the header with the stack's value): counted at the edge, not here.
    assert not matches(scope, "POST", stage_path, {ORIGIN_HEADER: SECRET}, secret)
    assert not matches(scope, "POST", stage_path, {ORIGIN_HEADER.title(): SECRET}, secret)
    # Direct callers are counted by their own address: without the header, or with a guess.
    assert matches(scope, "POST", stage_path, {}, secret)
    for guess in ("", SECRET[:-1], SECRET.upper(), SECRET + "x", "true"):
        assert matches(scope, "POST", stage_path, {ORIGIN_HEADER: guess}, secret), guess
    # The header is matched exactly, against the parameter, with no transformation to widen it.
    (header,) = [s["NotStatement"]["Statement"]["ByteMatchStatement"]
                 for s in scope["AndStatement"]["Statements"] if "NotStatement" in s]
    assert header["FieldToMatch"] == {"SingleHeader": {"Name": ORIGIN_HEADER}}
    assert header["PositionalConstraint"] == "EXACTLY" and header["SearchString"] == {"Ref": ORIGIN_SECRET_PARAM}
    assert header["TextTransformations"] == [{"Priority": 0, "Type": "NONE"}]


def _walk(node: Any) -> list[dict[str, Any]]:
    """Every object in a template, nested ones included."""
    if isinstance(node, dict):
        return [node] + [d for value in node.values() for d in _walk(value)]
    if isinstance(node, list):
        return [d for value in node for d in _walk(value)]
    return []


def _origin_header_values(document: Any) -> list[Any]:
    """What every origin header CloudFront sends, and every WAF match on that header, is valued with."""
    header = ORIGIN_HEADER.lower()
    sent = [d["HeaderValue"] for d in _walk(document) if str(d.get("HeaderName", "")).lower() == header]
    matched = [d["SearchString"] for d in _walk(document)
               if str(d.get("FieldToMatch", {}).get("SingleHeader", {}).get("Name", "")).lower() == header]
    return sent + matched


def test_the_origin_secret_is_a_noecho_parameter_never_a_literal(package):
    out, t = package
    param = t["Parameters"][ORIGIN_SECRET_PARAM]
    assert param["Type"] == "String" and param["NoEcho"] is True and "Default" not in param
    assert param["MinLength"] >= 32  # openssl rand -hex 32 gives 64
    # The origin header and each regional rule's exemption, all valued with the parameter.
    assert _origin_header_values(t) == [{"Ref": ORIGIN_SECRET_PARAM}] * (1 + len(PER_ADDRESS))
    assert _origin_header_values(json.loads((ROOT / "deploy" / "merge-template-prod.json").read_text())) == [
        {"Ref": ORIGIN_SECRET_PARAM}] * (1 + len(PER_ADDRESS))
    assert not _origin_header_values(json.loads((out / "edge-firewall.json").read_text()))
    # Used there only: no output, no environment variable, no other resource holds it.
    refs = [d for d in _walk(t) if d == {"Ref": ORIGIN_SECRET_PARAM}]
    assert len(refs) == 1 + len(PER_ADDRESS) and ORIGIN_SECRET_PARAM not in json.dumps(t.get("Outputs", {}))
    # The regional ACL's logs never hold it.
    (logging,) = of_type(t, "AWS::WAFv2::LoggingConfiguration").values()
    assert ORIGIN_HEADER in {f["SingleHeader"]["Name"] for f in logging["Properties"]["RedactedFields"]}


def test_package_writes_the_edge_template_and_cfn_lint_passes_it(package):
    out, _ = package
    path = out / "edge-firewall.json"
    assert json.loads(path.read_text()) == json.loads(json.dumps(edge_firewall("prod")))
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(path), "--regions", EDGE_REGION],
                          capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0, lint.stdout[-3000:]
