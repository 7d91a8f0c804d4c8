"""The web wallet's refresh token in an HttpOnly cookie (API.md, "Staying signed in"), over the
app on fakes: set on login, read and rotated on refresh, cleared on logout; only with the
X-Refresh-Cookie header (the CSRF guard); JSON clients exactly as before."""
from __future__ import annotations

import pytest

from chalicelib.api import refresh_cookie
from tests.unit.identity_env import PASSWORD, verify_email

WEB = {refresh_cookie.HEADER: "1"}


@pytest.fixture
def ada(env) -> str:
    user = env.identity.register("ada@example.com", PASSWORD)
    verify_email(env, user.user_id, "ada@example.com")
    return "ada@example.com"


def cookies_set(headers) -> list[str]:
    value = headers.get("Set-Cookie") or headers.get("set-cookie") or []
    return value if isinstance(value, list) else [value]


def token_in(set_cookies: list[str]) -> str:
    tokens = {c.split(";")[0].split("=", 1)[1] for c in set_cookies}
    assert len(tokens) == 1
    return tokens.pop()


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"theme=dark; {refresh_cookie.NAME}={token}"}


def login(http, headers=None):
    return http.request("POST", "/auth/login", {"email": "ada@example.com", "password": PASSWORD}, headers=headers)


def test_a_web_login_puts_the_refresh_token_in_httponly_strict_cookies_for_refresh_and_logout(http, ada):
    status, body, headers = login(http, WEB)
    assert status == 200 and body["access_token"] and body["device_token"]
    assert "refresh_token" not in body  # no script of the page ever sees it
    set_cookies = cookies_set(headers)
    assert sorted(c.split("; Path=")[1].split(";")[0] for c in set_cookies) == ["/api/auth/logout",
                                                                              "/api/auth/refresh"]
    for c in set_cookies:
        attributes = {a.strip().split("=")[0] for a in c.split(";")[1:]}
        assert {"HttpOnly", "Secure", "SameSite", "Path", "Max-Age"} == attributes
        assert "SameSite=Strict" in c and "Max-Age=2592000" in c
    assert token_in(set_cookies).startswith("rt.")


def test_json_clients_keep_the_pair_in_the_body_and_get_no_cookie(http, ada):
    status, body, headers = login(http)
    assert status == 200 and body["refresh_token"].startswith("rt.") and not cookies_set(headers)
    status, pair, headers = http.request("POST", "/auth/refresh", {"refresh_token": body["refresh_token"]})
    assert status == 200 and pair["refresh_token"] != body["refresh_token"] and not cookies_set(headers)
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    status, _, headers = http.request("POST", "/auth/logout", {"refresh_token": pair["refresh_token"]})
    assert status == 204 and not cookies_set(headers)
    status, body, _ = http.request("POST", "/auth/refresh", {})
    assert (status, body["error"]["code"]) == (400, "invalid_request")  # as before: the field is required
    assert body["error"]["details"] == [{"field": "refresh_token", "message": "Field required"}]


def test_the_cookie_refreshes_rotates_and_a_replayed_old_cookie_ends_the_login(http, env, ada):
    first = token_in(cookies_set(login(http, WEB)[2]))
    status, body, headers = http.request("POST", "/auth/refresh", headers={**WEB, **cookie(first)})
    assert status == 200 and body["access_token"] and "refresh_token" not in body
    second = token_in(cookies_set(headers))
    assert second != first
    env.clock.advance(31)  # past the retry leeway: the old cookie is a stolen copy
    status, body, headers = http.request("POST", "/auth/refresh", headers={**WEB, **cookie(first)})
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    assert all("Max-Age=0" in c for c in cookies_set(headers)) and len(cookies_set(headers)) == 2
    assert http.request("POST", "/auth/refresh", headers={**WEB, **cookie(second)})[0] == 401  # login revoked


def test_the_cookie_is_read_only_with_the_header_a_cross_site_request_cannot_send(http, ada):
    token = token_in(cookies_set(login(http, WEB)[2]))
    status, body, _ = http.request("POST", "/auth/refresh", headers=cookie(token))  # a forged form post
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    status, body, _ = http.request("POST", "/auth/refresh", headers={refresh_cookie.HEADER: "yes", **cookie(token)})
    assert status == 400
    status, body, _ = http.request("POST", "/auth/logout", headers=cookie(token))
    assert status == 400
    assert http.request("POST", "/auth/refresh", headers={**WEB, **cookie(token)})[0] == 200  # still alive
    status, body, _ = http.request("POST", "/auth/refresh", headers=WEB)  # the header, no cookie
    assert (status, body["error"]["code"]) == (401, "unauthorized")


def test_logout_by_cookie_ends_the_login_and_clears_both_cookies(http, ada):
    status, body, headers = login(http, WEB)
    token, access = token_in(cookies_set(headers)), body["access_token"]
    status, _, headers = http.request("POST", "/auth/logout", headers={**WEB, **cookie(token)})
    assert status == 204
    cleared = cookies_set(headers)
    assert len(cleared) == 2 and all(c.startswith(f"{refresh_cookie.NAME}=;") and "Max-Age=0" in c for c in cleared)
    assert http.request("GET", "/me", token=access)[0] == 401
    assert http.request("POST", "/auth/refresh", headers={**WEB, **cookie(token)})[0] == 401


def test_a_body_token_wins_over_the_cookie_and_the_new_one_goes_where_the_header_says(http, ada):
    body = login(http)[1]
    status, pair, headers = http.request("POST", "/auth/refresh", {"refresh_token": body["refresh_token"]},
                                         headers={**WEB, **cookie("rt.nobody.nothing")})
    assert status == 200 and "refresh_token" not in pair and token_in(cookies_set(headers)).startswith("rt.")


def test_the_cookie_parser_takes_its_own_cookie_only():
    assert refresh_cookie.read(None) is None
    assert refresh_cookie.read("a=b; ewallet_refreshx=c") is None
    assert refresh_cookie.read(f"{refresh_cookie.NAME}=") is None
    assert refresh_cookie.read(f'a=1;{refresh_cookie.NAME}="rt.x.y"; b=2') == "rt.x.y"
    assert refresh_cookie.read(f"{refresh_cookie.NAME}=rt.{'x' * 600}.y") is None  # no login has such a name
    assert refresh_cookie.read(f"{refresh_cookie.NAME}=rt.\u00e9.y") is None


def test_a_hostile_cookie_is_a_401_never_a_5xx(http, ada):
    for value in ("rt." + "x" * 5000 + ".y", "rt..", "rt.\u00e9.y", "x", '""', "rt.a.b.c"):
        status, body, _ = http.request("POST", "/auth/refresh", headers={**WEB, **cookie(value)})
        assert (status, body["error"]["code"]) == (401, "unauthorized"), value


def test_the_document_says_the_header_is_optional_and_the_body_token_may_live_in_the_cookie(http):
    doc = http.request("GET", "/openapi.json")[1]
    refresh = doc["paths"]["/auth/refresh"]["post"]
    header = {"name": refresh_cookie.HEADER, "in": "header", "required": False}
    assert header.items() <= refresh["parameters"][0].items()
    assert refresh["requestBody"]["required"] is False
    tokens = doc["components"]["schemas"]["TokensOut"]
    assert "refresh_token" not in tokens["required"] and tokens["properties"]["refresh_token"]["type"] == "string"
