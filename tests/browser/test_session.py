"""Tokens in the page: kept in memory only (only the device token is stored), refreshed once
however many calls need it, and a dead login sends the person back to sign in."""
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


def test_only_the_device_token_outlives_the_page(people: dict[str, Person]) -> None:
    """The access and refresh tokens live in the page's memory only; the one thing stored is the
    device token of this browser (no credential: it keeps strangers' guesses from locking this
    browser out), under one key, with no e-mail in it. It survives a reload and goes with the
    next login."""
    ana = people["Ana"]
    ana.sign_up("Ana", "Bell")
    kept = stored(ana)
    assert kept["session"] == 0 and kept["cookie"] == "" and kept["cookies"] == []
    assert list(kept["local"]) == [DEVICE_KEY]
    tokens = json.loads(kept["local"][DEVICE_KEY])
    assert len(tokens) == 1
    [(account, entry)] = tokens.items()
    assert re.fullmatch(r"[0-9a-f]{64}", account) and set(entry) == {"token", "at"}
    assert entry["token"].startswith("dt1.")
    assert ana.email.split("@")[0] not in kept["local"][DEVICE_KEY]
    assert "eyJ" not in json.dumps(kept)  # no JWT (an access token) anywhere
    # ...so a reload is a new, signed-out page, which still knows this browser.
    ana.page.reload()
    expect(ana.page.locator("h1")).to_have_text("Sign in")
    assert stored(ana)["local"] == kept["local"]
    ana.shot("signed-out-after-reload")
    with ana.page.expect_request("**/auth/login") as login:
        ana.sign_in()
    sent = login.value.post_data_json
    assert sent is not None and sent["device_token"] == entry["token"]
    expect(ana.page.locator("h1")).to_have_text("Hello, Ana")
    again = stored(ana)
    assert list(again["local"]) == [DEVICE_KEY] and again["session"] == 0 and again["cookies"] == []
    assert "eyJ" not in json.dumps(again)


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
