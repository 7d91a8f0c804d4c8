"""The web wallet in AWS: a private bucket behind CloudFront, and the published folder."""
from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from chalicelib.api.refresh_cookie import WEB_API_PREFIX
from deploy import web
from deploy.publish_web import upload
from deploy.template import ALL_VIEWER_EXCEPT_HOST_HEADER, CACHING_DISABLED, merge_template

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def resources() -> dict:
    return merge_template("prod")["Resources"]


def test_the_bucket_is_private_encrypted_and_read_only_by_our_distribution(resources: dict) -> None:
    bucket = resources["WebBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    statements = resources["WebBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allows) == 1 and allows[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allows[0]["Action"] == "s3:GetObject"
    assert "${WebDistribution}" in allows[0]["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements)


def test_the_distribution_serves_https_with_security_headers(resources: dict) -> None:
    config = resources["WebDistribution"]["Properties"]["DistributionConfig"]
    origin = config["Origins"][0]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["WebOriginAccessControl", "Id"]}
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": "WebHeaders"}
    headers = resources["WebHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert "frame-ancestors 'none'" in headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000


def test_the_web_origin_serves_the_api_under_api_uncached_with_its_cookies(resources: dict) -> None:
    config = resources["WebDistribution"]["Properties"]["DistributionConfig"]
    [behavior] = config["CacheBehaviors"]
    assert behavior["PathPattern"] == f"{WEB_API_PREFIX}/*"
    assert behavior["ViewerProtocolPolicy"] == "https-only"  # a redirect would turn a POST into a GET
    assert set(behavior["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert behavior["CachePolicyId"] == CACHING_DISABLED  # nothing cached: answers are per user
    # Every viewer header but Host (Authorization, Idempotency-Key, Content-Type, X-Refresh-Cookie),
    # the cookies and the query strings, to this origin only.
    assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert "OriginRequestPolicyId" not in config["DefaultCacheBehavior"]  # the bucket gets no cookie
    origin = next(o for o in config["Origins"] if o["Id"] == behavior["TargetOriginId"])
    assert origin["DomainName"] == {"Fn::Sub": "${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    # No origin path and no function: /api/x reaches the stage named like the prefix, route /x,
    # the same path the browser sees (so the refresh cookie's Path holds both ways).
    assert "OriginPath" not in origin and "FunctionAssociations" not in behavior
    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
    assert "/" + stages["prod"]["api_gateway_stage"] == WEB_API_PREFIX


def test_the_api_allows_no_other_origin_now_the_page_calls_it_under_its_own(resources: dict) -> None:
    variables = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert "CORS_ORIGINS" not in variables  # and the API may not name the distribution: that is a cycle


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = web.build(tmp_path_factory.mktemp("web") / "site")
    web.publish(folder, web.config("https://abc.execute-api.eu-west-1.amazonaws.com/api/",
                                   "wss://def.execute-api.eu-west-1.amazonaws.com/api", web.STRIPE_JS,
                                   "pk_test_123", ("USD", "JPY")), web.STRIPE_ORIGINS)
    return folder


def test_published_page_names_its_endpoints_in_its_policy_and_holds_no_secret(published: Path) -> None:
    config = json.loads((published / "config.json").read_text())
    assert config == {"apiUrl": "https://abc.execute-api.eu-west-1.amazonaws.com/api",
                      "wsUrl": "wss://def.execute-api.eu-west-1.amazonaws.com/api",
                      "stripeJsUrl": "https://js.stripe.com/v3/", "stripePublishableKey": "pk_test_123",
                      "currencies": ["USD", "JPY"], "exponents": {"USD": 2, "JPY": 0}}
    index = (published / "index.html").read_text()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', index)
    assert policy and index.index("Content-Security-Policy") < index.index("<script")
    connect = next(d for d in policy.group(1).split("; ") if d.startswith("connect-src"))
    assert "https://abc.execute-api.eu-west-1.amazonaws.com" in connect
    assert "wss://def.execute-api.eu-west-1.amazonaws.com" in connect
    assert "*" not in connect.replace("https://*.js.stripe.com", "")
    for path in published.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not re.search(r"sk_(live|test)_|whsec_|BEGIN (RSA |EC )?PRIVATE KEY", text), path


def test_upload_puts_every_file_with_its_type(published: Path) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="web")
        keys = upload(s3, "web", published)
        assert {"index.html", "app.js", "styles.css", "config.json"} <= set(keys)
        assert s3.head_object(Bucket="web", Key="index.html")["ContentType"] == "text/html"
        assert s3.head_object(Bucket="web", Key="app.js")["ContentType"] == "text/javascript"
        assert s3.head_object(Bucket="web", Key="config.json")["CacheControl"] == "no-cache"
