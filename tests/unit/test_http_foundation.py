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


def test_identity_routes_over_http(http, env):
    from tests.token_attacks import forgeries
    from tests.unit.identity_env import PASSWORD

    status, body, _ = http.request("POST", "/auth/register", {"email": "A@Example.com", "password": PASSWORD})
    assert status == 201 and body["user"]["email"] == "A@example.com"
    status, tokens, headers = http.request("POST", "/auth/login", {"email": "a@example.com", "password": PASSWORD})
    assert status == 200 and tokens["token_type"] == "Bearer" and headers["Cache-Control"] == "no-store"
    status, me, _ = http.request("GET", "/me", token=tokens["access_token"])
    assert status == 200 and me["user_id"] == body["user"]["user_id"]
    jwks = http.request("GET", "/.well-known/jwks.json")[1]
    for name, forged in forgeries(tokens["access_token"], jwks).items():
        status, err, _ = http.request("GET", "/me", token=forged)
        assert (status, err["error"]["code"]) == (401, "unauthorized"), name


@pytest.mark.parametrize("body,field", [
    ({"password": "correct horse battery staple"}, "email"),
    ({"email": "a@example.com"}, "password"),
    ({"email": 5, "password": "correct horse battery staple"}, "email"),
    ({"email": "nope", "password": "correct horse battery staple"}, "email"),
    ({"email": "a@example.com", "password": "short"}, "password"),
    ({"email": "a@example.com", "password": "password1234"}, "password"),
    ({"email": "a@example.com", "password": "correct horse battery staple", "phone": "123"}, "phone"),
])
def test_register_validation(http, body, field):
    status, err, _ = http.request("POST", "/auth/register", body)
    assert status == 400 and err["error"]["code"] == "invalid_request"
    assert field in [d["field"] for d in err["error"]["details"]]


def test_cors_only_for_configured_origins(http):
    from chalicelib.config import Settings
    from chalicelib.container import Container, get_container, set_container

    current = get_container()
    set_container(Container(Settings(cors_origins=("https://app.example",)), identity=current.identity,
                            access_tokens=current.access_tokens))
    _, _, headers = http.request("GET", "/health", headers={"Origin": "https://app.example"})
    assert headers["Access-Control-Allow-Origin"] == "https://app.example" and headers["Vary"] == "Origin"
    _, _, headers = http.request("GET", "/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in headers
    status, _, headers = http.request("OPTIONS", "/auth/login", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert status == 204 and "POST" in headers["Access-Control-Allow-Methods"]
    assert "Authorization" in headers["Access-Control-Allow-Headers"]
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
