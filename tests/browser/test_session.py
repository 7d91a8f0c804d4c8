"""Tokens in the page: the access token in memory only, the refresh token in an HttpOnly cookie
no script can read (a reload keeps the person signed in), refreshed once however many calls
need it, and a dead login sends the person back to sign in."""
from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import Request, Route, expect

from tests.browser.conftest import Person

DEVICE_KEY = "ewallet.device_tokens"
EXPIRED = json.dumps({"error": {"code": "unauthorized", "message": "The access token has expired."}})


def stored(person: Person) -> dict[str, Any]:
    """Everything the page keeps outside its memory."""
    found: dict[str, Any] = person.page.evaluate("""() => ({
        local: Object.fromEntries(Object.keys(localStorage).map((k) => [k, localStorage.getItem(k)])),
        session: sessionStorage.length, cookie: document.cookie })""")
    found["cookies"] = person.context.cookies()
    return found


def test_a_reload_keeps_the_person_signed_in_and_no_script_reads_the_refresh_token(people: dict[str, Person]) -> None:
    """The access token lives in the page's memory only; the refresh token is an HttpOnly,
    SameSite=Strict cookie scoped to the refresh (and logout) route, which no script can read;
    the one thing in localStorage is the device token map (no credential, no e-mail in it). A
    reload restores the session from the cookie; signing out ends it for good."""
    ana = people["Ana"]
    ana.sign_up("Ana", "Bell")
    kept = stored(ana)
    assert kept["session"] == 0 and kept["cookie"] == ""  # document.cookie: nothing a script can see
    assert list(kept["local"]) == [DEVICE_KEY]
    tokens = json.loads(kept["local"][DEVICE_KEY])
    assert len(tokens) == 1
    [(account, entry)] = tokens.items()
    assert re.fullmatch(r"[0-9a-f]{64}", account) and set(entry) == {"token", "at"}
    assert entry["token"].startswith("dt1.")
    assert ana.email.split("@")[0] not in kept["local"][DEVICE_KEY]
    assert "eyJ" not in json.dumps({k: kept[k] for k in ("local", "session", "cookie")})  # no JWT a script can read
    refresh = [c for c in kept["cookies"] if c["name"] == "ewallet_refresh"]
    assert refresh and all(c["httpOnly"] and c["sameSite"] == "Strict" and c["secure"] for c in refresh)
    assert {c["path"] for c in refresh} == {"/api/auth/refresh", "/api/auth/logout"}
    # A reload restores the session (one refresh, with the cookie and its header).
    with ana.page.expect_request("**/auth/refresh") as refreshed:
        ana.page.reload()
    assert refreshed.value.headers.get("x-refresh-cookie") == "1"
    assert not refreshed.value.post_data
    expect(ana.page.locator("h1")).to_have_text("Hello, Ana")
    ana.shot("signed-in-after-reload")
    assert stored(ana)["local"] == kept["local"] and stored(ana)["cookie"] == ""
    # Signing out ends the login: the cookie is gone, and a reload is a signed-out page that
    # still knows this browser (its device token goes with the next login).
    with ana.page.expect_response("**/auth/logout") as logout:
        ana.page.get_by_role("button", name="Sign out").click()
    assert logout.value.status == 204
    expect(ana.page.locator("h1")).to_have_text("Sign in")
    assert not [c for c in ana.context.cookies() if c["name"] == "ewallet_refresh"]
    ana.page.reload()
    expect(ana.page.locator("h1")).to_have_text("Sign in")
    with ana.page.expect_request("**/auth/login") as login:
        ana.sign_in()
    sent = login.value.post_data_json
    assert sent is not None and sent["device_token"] == entry["token"]
    assert login.value.headers.get("x-refresh-cookie") == "1"
    expect(ana.page.locator("h1")).to_have_text("Hello, Ana")
    again = stored(ana)
    assert list(again["local"]) == [DEVICE_KEY] and again["session"] == 0 and again["cookie"] == ""


def test_an_expired_access_token_is_refreshed_once_for_all_waiting_calls(people: dict[str, Person]) -> None:
    ana = people["Ana"]
    ana.sign_up("Ana", "Bell")
    ana.nav("Send")
    # Send's own /wallets must be answered before the fake expiry starts: only Home's two
    # calls, sent together with the same token, are to meet it.
    expect(ana.page.get_by_label("From")).to_be_visible()
    refreshes: list[str] = []

    def count(request: Request) -> None:
        if request.url.endswith("/auth/refresh"):
            refreshes.append(request.method)

    ana.page.on("request", count)
    expired_once = {"/wallets": True, "/me": True}

    def expire(route: Route) -> None:
        # The page reaches the API under its own origin: WEB_URL/api/<route>.
        path = ("/" + route.request.url.split("/", 3)[3].split("?")[0]).removeprefix("/api")
        if route.request.method == "GET" and expired_once.get(path):
            expired_once[path] = False
            route.fulfill(status=401, body=EXPIRED, content_type="application/json",
                          headers={"Access-Control-Allow-Origin": "*"})
            return
        route.fallback()

    ana.page.route("**/wallets", expire)
    ana.page.route("**/me", expire)
    # Home asks for /wallets and /me at once: both get 401, one refresh serves both retries.
    ana.nav("Home")
    expect(ana.page.locator("h1")).to_have_text("Hello, Ana")
    expect(ana.page.get_by_test_id("balance-USD")).to_have_text("$0.00")
    assert expired_once == {"/wallets": False, "/me": False}
    assert refreshes == ["POST"]


def test_a_refused_refresh_signs_out(people: dict[str, Person]) -> None:
    ana = people["Ana"]
    ana.sign_up("Ana", "Bell")

    def refuse(route: Route, *_: Any) -> None:
        route.fulfill(status=401, body=EXPIRED, content_type="application/json",
                      headers={"Access-Control-Allow-Origin": "*"})

    ana.page.route("**/wallets", refuse)
    ana.page.route("**/auth/refresh", refuse)
    ana.nav("Send")
    expect(ana.page.locator("h1")).to_have_text("Sign in")
