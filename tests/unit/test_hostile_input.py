"""Hostile input never reaches a 5xx: each gets the contract's status and code, and the service
behind the route is never called (so nothing can change)."""
from __future__ import annotations

import json

import pytest

from tests.unit.identity_env import PASSWORD, verify_email


@pytest.fixture
def token(env, http):
    # Verified: an account without a verified contact is refused (403) before its body is read.
    alice = env.identity.register("alice@example.com", PASSWORD)
    verify_email(env, alice.user_id, "alice@example.com")
    return env.identity.login(PASSWORD, email="alice@example.com").access_token


def test_a_body_over_64_kib_is_413(http, token):
    big = json.dumps({"currency": "USD", "name": "x" * (64 * 1024)})
    status, body, _ = http.request("POST", "/wallets", raw=big, token=token)
    assert status == 413 and body["error"]["code"] == "payload_too_large"
    status, body, _ = http.request("POST", "/auth/login", raw=big)  # public routes too
    assert status == 413


@pytest.mark.parametrize("depth,status", [(31, 400), (33, 400), (5000, 400)])
def test_json_nested_too_deep_is_400(http, token, depth, status):
    # 31 levels is allowed JSON but an invalid wallet body (400 from the schema); deeper is refused
    # before any schema, and 5000 levels would blow Python's recursion limit in json.loads.
    raw = '{"currency": "USD", "name": ' + "[" * depth + "]" * depth + "}"
    code, body, _ = http.request("POST", "/wallets", raw=raw, token=token)
    assert code == status and body["error"]["code"] == "invalid_request"
    if depth > 32:
        assert "nested" in body["error"]["message"]


def test_33_levels_of_objects_are_refused_whatever_the_route(http):
    raw = '{"a": ' * 33 + "1" + "}" * 33
    code, body, _ = http.request("POST", "/auth/login", raw=raw)
    assert code == 400 and "nested" in body["error"]["message"]


@pytest.mark.parametrize("raw", [
    '{"otp": "\\udba3"}',  # a lone surrogate, as JSON allows it to be written
    '{"otp": "12\\ud800"}',
    '{"\\udc00": "1"}',  # in a key
])
def test_lone_surrogates_are_400(http, token, raw):
    code, body, _ = http.request("POST", "/me/mfa/totp/confirm", raw=raw, token=token)
    assert code == 400 and body["error"]["code"] == "invalid_request"


def test_invalid_utf8_is_400(http, token):
    code, body, _ = http.request("POST", "/me/mfa/totp/confirm", raw=b'{"otp": "\xff\xfe"}', token=token)
    assert code == 400 and body["error"]["code"] == "invalid_request"


def test_a_lone_surrogate_in_a_query_is_400():
    from types import SimpleNamespace

    from chalicelib.api.routing import _parse_query
    from chalicelib.api.wallets import PageQuery
    from chalicelib.domain.errors import InvalidRequest

    for params in ({"cursor": "\ud800"}, {"\udfff": "1"}):
        with pytest.raises(InvalidRequest):
            _parse_query(SimpleNamespace(query_params=params), PageQuery)  # type: ignore[arg-type]


def test_a_path_id_over_128_characters_is_404(http, token):
    code, body, _ = http.request("GET", "/wallets/" + "w" * 129, token=token)
    assert code == 404 and body["error"]["code"] == "not_found"
    code, body, _ = http.request("GET", "/transfers/" + "t" * 5000, token=token)
    assert code == 404


@pytest.mark.parametrize("method", ["TRACE", "HEAD", "CONNECT", "PROPFIND"])
def test_unserved_methods_are_405_with_what_the_path_serves(http, method):
    code, body, headers = http.request(method, "/health")
    assert code == 405 and headers["Allow"] == "GET"
    assert body is None or body["error"]["code"] == "method_not_allowed"


def test_allow_lists_only_real_methods(http, token):
    code, _, headers = http.request("TRACE", "/wallets", token=token)
    assert code == 405 and headers["Allow"] == "GET, POST"
    code, _, headers = http.request("PUT", "/wallets", token=token)
    assert code == 405 and headers["Allow"] == "GET, POST"


def test_unserved_method_on_an_unknown_path_is_404(http, token):
    code, _body, headers = http.request("TRACE", "/no/such/path", token=token)
    assert code == 404 and "Allow" not in headers
