"""The HTTP plumbing of the real app: health, OpenAPI, error shapes, default-deny auth."""
from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from chalicelib.api.auth import SECURITY_HEADERS


def test_health(http):
    assert http.request("GET", "/health")[:2] == (200, {"status": "ok"})


def test_openapi_is_a_valid_document_generated_from_the_routes(http):
    status, doc, _ = http.request("GET", "/openapi.json")
    assert status == 200
    validate(doc)
    assert doc["openapi"].startswith("3.")
    assert "/health" in doc["paths"] and "get" in doc["paths"]["/health"]
    assert "/webhooks/stripe" in doc["paths"]
    # Internal fallbacks are not part of the contract.
    assert "/{proxy+}" not in doc["paths"]
    assert doc["paths"]["/health"]["get"]["security"] == []


@pytest.mark.parametrize("path", ["/wallets", "/me", "/transfers/abc", "/", "/no/such/deep/path"])
def test_protected_or_unknown_paths_without_token_are_401_in_contract_shape(http, path):
    status, body, _ = http.request("GET", path)
    assert status == 401
    assert body == {"error": {"code": "unauthorized", "message": "A valid access token is required."}}


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic abc", "bearer", "Token x.y.z"])
def test_malformed_authorization_headers_are_401(http, header):
    status, body, _ = http.request("GET", "/wallets", headers={"Authorization": header})
    assert status == 401 and body["error"]["code"] == "unauthorized"


def test_garbage_bearer_token_is_401(http):
    status, body, _ = http.request("GET", "/wallets", token="not.a.jwt")
    assert status == 401 and body["error"]["code"] == "unauthorized"


def test_wrong_method_is_405_with_allow(http):
    status, body, headers = http.request("DELETE", "/health")
    assert status == 405 and body["error"]["code"] == "method_not_allowed"
    assert headers["Allow"] == "GET"


def test_non_json_media_type_is_415(http):
    status, body, _ = http.request("POST", "/webhooks/stripe", raw="hello", headers={"Content-Type": "text/plain"})
    assert status == 415 and body["error"]["code"] == "unsupported_media_type"


def test_security_headers_on_every_response(http):
    for method, path in [("GET", "/health"), ("GET", "/wallets"), ("PUT", "/health")]:
        _, _, headers = http.request(method, path)
        for name, value in SECURITY_HEADERS.items():
            assert headers.get(name) == value, (method, path, name)
