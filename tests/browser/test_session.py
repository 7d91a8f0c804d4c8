"""Tokens in the page: kept in memory only, refreshed once however many calls need it, and a
dead login sends the person back to sign in."""
from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Request, Route, expect

from tests.browser.conftest import Person

EXPIRED = json.dumps({"error": {"code": "unauthorized", "message": "The access token has expired."}})


def test_no_token_is_stored_outside_the_pages_memory(people: dict[str, Person]) -> None:
    ana = people["Ana"]
    ana.sign_up("Ana", "Bell")
    stored = ana.page.evaluate("() => [localStorage.length, sessionStorage.length, document.cookie]")
    assert stored == [0, 0, ""]
    assert ana.context.cookies() == []
    # ...so a reload is a new, signed-out page.
    ana.page.reload()
    expect(ana.page.locator("h1")).to_have_text("Sign in")


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
        path = "/" + route.request.url.split("/", 3)[3].split("?")[0]
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
