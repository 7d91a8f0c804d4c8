"""The API under the web wallet's own origin (WEB_URL/api/... is API_URL/..., as CloudFront's /api/*
behaviour does in AWS), and the web wallet's way of staying signed in through it: the refresh
token in an HttpOnly cookie the browser keeps, which the page's scripts never see."""
from __future__ import annotations

import http.cookiejar
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pytest
import requests
from requests.cookies import get_cookie_header

from chalicelib.api import refresh_cookie
from tests.e2e.conftest import PASSWORD, uniq_email

WEB = {refresh_cookie.HEADER: "1", "Content-Type": "application/json"}


class LikeABrowserOnLocalhost(http.cookiejar.DefaultCookiePolicy):
    """Chromium and Firefox keep and send Secure cookies on http://localhost and http://127.0.0.1
    (potentially trustworthy origins, W3C Secure Contexts 3.1); Python's cookie jar sends them
    over https only. The test's browser does what the browsers do, and no more."""

    def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        host = urllib.parse.urlsplit(request.get_full_url()).hostname
        return host in ("127.0.0.1", "localhost") or bool(super().return_ok_secure(cookie, request))


class Browser(requests.Session):
    """A session whose cookie jar keeps that policy when it sends, too (requests builds each
    request's Cookie header from a fresh jar with the default policy)."""

    def __init__(self) -> None:
        super().__init__()
        self.cookies.set_policy(LikeABrowserOnLocalhost())

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        header = get_cookie_header(self.cookies, prepared)
        if header:
            prepared.headers["Cookie"] = header
        return prepared


@pytest.fixture
def browser() -> requests.Session:
    return Browser()


@pytest.fixture(scope="module")
def web(stack) -> str:
    return stack["WEB_URL"] + refresh_cookie.WEB_API_PREFIX


def test_the_web_origin_answers_the_api_routes_as_the_api_does(stack, web, new_user):
    api = stack["API_URL"]
    assert requests.get(f"{web}/health", timeout=10).json() == requests.get(f"{api}/health", timeout=10).json()
    doc = requests.get(f"{web}/openapi.json", timeout=10)
    assert doc.status_code == 200 and doc.json()["paths"].keys() == requests.get(f"{api}/openapi.json",
                                                                                   timeout=10).json()["paths"].keys()
    user = new_user()
    auth = {"Authorization": f"Bearer {user.tokens['access_token']}"}
    me = requests.get(f"{web}/me", headers=auth, timeout=10)
    assert me.status_code == 200 and me.json()["user_id"] == user.user["user_id"]
    assert "X-Request-Id" in me.headers and me.headers["Cache-Control"] == "no-store"  # the API's own headers
    assert "Content-Security-Policy" not in me.headers  # not the page's
    patched = requests.patch(f"{web}/me", json={"first_name": "Ada"}, headers=auth, timeout=10)
    assert patched.status_code == 200 and patched.json()["first_name"] == "Ada"
    # The statuses and headers of refusals pass through too.
    assert requests.get(f"{web}/me", timeout=10).status_code == 401
    trace = requests.request("TRACE", f"{web}/me", headers=auth, timeout=10)
    assert trace.status_code == 405 and "GET" in trace.headers["Allow"]
    body: dict[str, Any] = {"from_wallet_id": "nope", "to": {"wallet_id": "nope"}, "amount": 100, "currency": "USD"}
    keyed = {**auth, "Idempotency-Key": uuid.uuid4().hex}
    missing = requests.post(f"{web}/transfers", json=body, headers=auth, timeout=10)
    assert missing.json()["error"]["code"] == "idempotency_key_required"
    assert requests.post(f"{web}/transfers", json=body, headers=keyed, timeout=10).json()["error"]["code"] != \
        "idempotency_key_required"
    # The page's files are still the page's, with its headers; its config sends it to /api.
    config = requests.get(stack["WEB_URL"] + "/config.json", timeout=10)
    assert config.json()["apiUrl"] == web and "Content-Security-Policy" in config.headers
    assert requests.post(stack["WEB_URL"] + "/config.json", timeout=10).status_code == 405


def test_a_reload_keeps_the_person_signed_in_by_a_cookie_no_script_can_read(stack, web, browser):
    email = uniq_email("web")
    assert browser.post(f"{web}/auth/register", json={"email": email, "password": PASSWORD},
                        timeout=10).status_code == 201
    login = browser.post(f"{web}/auth/login", json={"email": email, "password": PASSWORD}, headers=WEB, timeout=10)
    assert login.status_code == 200 and "refresh_token" not in login.json() and login.json()["access_token"]
    kept = {(c.name, c.path, c.secure, c.has_nonstandard_attr("HttpOnly")) for c in browser.cookies}
    assert kept == {(refresh_cookie.NAME, "/api/auth/refresh", True, True),
                    (refresh_cookie.NAME, "/api/auth/logout", True, True)}
    assert "samesite=strict" in login.headers["Set-Cookie"].lower()

    # "A reload": the page has no token at all, and asks for one with the cookie it cannot read.
    first = {c.value for c in browser.cookies}
    refreshed = browser.post(f"{web}/auth/refresh", headers=WEB, timeout=10)
    assert refreshed.status_code == 200, refreshed.text
    assert "refresh_token" not in refreshed.json()
    assert {c.value for c in browser.cookies} != first and len({c.value for c in browser.cookies}) == 1
    me = browser.get(f"{web}/me", headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"},
                     timeout=10)
    assert me.status_code == 200 and me.request.headers.get("Cookie") is None  # only the auth routes get it

    # Without the header (a forged cross-site post could not add it) the cookie is not read.
    forged = browser.post(f"{web}/auth/refresh", timeout=10)
    assert forged.status_code == 400 and forged.request.headers.get("Cookie")
    # The API's own address (not the page's) never gets the cookie: its Path is under /api.
    direct = browser.post(f"{stack['API_URL']}/auth/refresh", headers=WEB, timeout=10)
    assert direct.status_code == 401 and direct.request.headers.get("Cookie") is None

    # Signing out ends the login and the browser forgets the cookie.
    out = browser.post(f"{web}/auth/logout", headers=WEB, timeout=10)
    assert out.status_code == 204 and not list(browser.cookies)
    assert browser.post(f"{web}/auth/refresh", headers=WEB, timeout=10).status_code == 401
    assert requests.get(f"{web}/me", headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"},
                        timeout=10).status_code == 401


def test_json_clients_through_the_web_origin_keep_the_pair_in_the_body(web, new_user):
    user = new_user()
    r = requests.post(f"{web}/auth/login", json={"email": user.email, "password": PASSWORD}, timeout=10)
    assert r.status_code == 200 and r.json()["refresh_token"] and "Set-Cookie" not in r.headers
    again = requests.post(f"{web}/auth/refresh", json={"refresh_token": r.json()["refresh_token"]}, timeout=10)
    assert again.status_code == 200 and again.json()["refresh_token"] != r.json()["refresh_token"]
