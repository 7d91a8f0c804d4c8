"""Exchange between currencies over HTTP, against the running stack and its rates file
(FX_RATES_URL): the contract's rules for every configured pair, with expected figures computed
independently from the file with exact fractions (tests/unit/test_fx_rules.py)."""
from __future__ import annotations

import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import permutations

import pytest

from chalicelib.config import Settings
from tests.e2e.test_ledger import code, default_wallet
from tests.unit.test_fx_rules import expected, file_rates


def keyed(user, path: str, body: dict, key: str | None = None):
    return user.api.request("POST", path, body, headers={"Idempotency-Key": key or uuid.uuid4().hex})


def quote(user, sell: str, buy: str, **amount: int):
    return user.api.request("POST", "/fx/quotes", {"sell_currency": sell, "buy_currency": buy, **amount})


def test_the_stack_publishes_todays_rates_file(stack, new_user):
    assert stack["FX_SPREAD_BPS"] == "50"
    with urllib.request.urlopen(stack["FX_RATES_URL"]) as f:  # a file:// URL: the stack's own copy
        text = f.read().decode()
    today = datetime.now(tz=UTC).strftime("%Y-%m-%d")
    assert f"time='{today}'" in text
    r = new_user().api.request("GET", "/fx/rates")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["base"] == "EUR" and body["as_of"] == today
    assert {c: str(v) for c, v in body["rates"].items()} == body["rates"]  # decimal strings, never numbers
    rates = file_rates()
    assert {c: v for c, v in body["rates"].items()} == {c: body["rates"][c] for c in rates if c != "EUR"}


def test_quotes_for_every_configured_pair_match_exact_fractions(stack, new_user):
    u = new_user()
    bps = int(stack["FX_SPREAD_BPS"])
    currencies = Settings.from_env(stack).currencies
    for sell, buy in permutations(currencies, 2):
        for amount in (1_234, 99_999):
            for direction in ("sell_amount", "buy_amount"):
                r = quote(u, sell, buy, **{direction: amount})
                assert r.status_code == 201, (sell, buy, r.text)
                q = r.json()
                want = expected(sell, buy, bps, **{direction.split("_")[0]: amount})
                assert (q["sell"], q["buy"], q["fee"]) == (
                    {"amount": want[0], "currency": sell}, {"amount": want[1], "currency": buy},
                    {"amount": want[2], "currency": sell}), (sell, buy, direction, amount)
                created = datetime.fromisoformat(q["created_at"].replace("Z", "+00:00"))
                expires = datetime.fromisoformat(q["expires_at"].replace("Z", "+00:00"))
                assert (expires - created).total_seconds() >= 30


def test_bad_quotes_are_clear_4xx(new_user):
    u = new_user()
    r = quote(u, "USD", "USD", sell_amount=100)
    assert r.status_code == 422 and code(r) == "same_currency"
    for bad in [{"sell_currency": "USD", "buy_currency": "CHF", "sell_amount": 100},  # not configured
                {"sell_currency": "usd", "buy_currency": "JPY", "sell_amount": 100},
                {"sell_currency": "USD", "buy_currency": "JPY"},
                {"sell_currency": "USD", "buy_currency": "JPY", "sell_amount": 100, "buy_amount": 100},
                {"sell_currency": "USD", "buy_currency": "JPY", "sell_amount": 1.5},
                {"sell_currency": "USD", "buy_currency": "JPY", "sell_amount": "100"},
                {"sell_currency": "USD", "buy_currency": "JPY", "sell_amount": True},
                {"sell_currency": "USD", "buy_currency": "JPY", "sell_amount": 0},
                {"sell_currency": "USD", "buy_currency": "JPY", "buy_amount": -5},
                {"sell_currency": "JPY", "buy_currency": "USD", "sell_amount": 1},  # buys nothing
                {"sell_currency": "USD", "buy_currency": "JPY", "sell_amount": 10**17}]:  # above the maximum
        r = u.api.request("POST", "/fx/quotes", bad)
        assert r.status_code == 400 and code(r) == "invalid_request", (bad, r.text)
    assert u.api.__class__(u.api.base).request("POST", "/fx/quotes", {}).status_code == 401


def test_exchange_rules_over_http(new_user, fund):
    u, other = new_user(), new_user()
    usd = default_wallet(u)["wallet_id"]
    fund(usd, 10_000)
    q = quote(u, "USD", "JPY", sell_amount=6_000).json()
    body = {"quote_id": q["quote_id"], "from_wallet_id": usd}
    r = u.api.request("POST", "/fx/exchanges", body)
    assert r.status_code == 400 and code(r) == "idempotency_key_required"
    r = keyed(other, "/fx/exchanges", {"quote_id": q["quote_id"], "from_wallet_id": default_wallet(other)["wallet_id"]})
    assert r.status_code == 404 and code(r) == "not_found"  # someone else's quote
    eur = u.api.request("POST", "/wallets", {"currency": "EUR"}).json()["wallet_id"]
    r = keyed(u, "/fx/exchanges", {"quote_id": q["quote_id"], "from_wallet_id": eur})
    assert r.status_code == 422 and code(r) == "currency_mismatch"
    big = quote(u, "USD", "JPY", sell_amount=10_001).json()
    r = keyed(u, "/fx/exchanges", {"quote_id": big["quote_id"], "from_wallet_id": usd}, "short")
    assert r.status_code == 422 and code(r) == "insufficient_funds"
    key = uuid.uuid4().hex
    r = keyed(u, "/fx/exchanges", body, key)
    assert r.status_code == 201, r.text
    ex = r.json()
    assert ex["status"] == "posted" and ex["sell"] == q["sell"] and ex["buy"] == q["buy"] and ex["fee"] == q["fee"]
    again = keyed(u, "/fx/exchanges", body, key)
    assert again.status_code == 201 and again.json() == ex and again.headers["Idempotent-Replayed"] == "true"
    r = keyed(u, "/fx/exchanges", body)
    assert r.status_code == 409 and code(r) == "quote_used"
    wallets = {w["wallet_id"]: w for w in u.api.request("GET", "/wallets").json()["items"]}
    assert wallets[usd]["balance"] == 4_000 and wallets[ex["to_wallet_id"]]["balance"] == q["buy"]["amount"]
    for wallet, direction, amount in ((usd, "debit", 6_000), (ex["to_wallet_id"], "credit", q["buy"]["amount"])):
        items = u.api.request("GET", f"/wallets/{wallet}/transactions").json()["items"]
        assert (items[0]["type"], items[0]["direction"], items[0]["amount"]) == ("exchange", direction, amount)
    # The short attempt left its quote usable: funded, the same key goes through.
    fund(usd, 10_000)
    r = keyed(u, "/fx/exchanges", {"quote_id": big["quote_id"], "from_wallet_id": usd}, "short")
    assert r.status_code == 201, r.text


def test_many_concurrent_executions_of_one_quote_exactly_one_wins(new_user, fund):
    u = new_user()
    usd = default_wallet(u)["wallet_id"]
    fund(usd, 50_000)
    q = quote(u, "USD", "GBP", sell_amount=3_333).json()
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: keyed(u, "/fx/exchanges", {"quote_id": q["quote_id"],
                                                                       "from_wallet_id": usd}), range(10)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] + [409] * 9, [r.text for r in answers]
    assert {code(r) for r in answers if r.status_code == 409} == {"quote_used"}
    assert u.api.request("GET", f"/wallets/{usd}").json()["balance"] == 50_000 - 3_333


def test_paying_someone_in_their_currency(new_user, fund):
    alice, bob = new_user(), new_user()
    usd = default_wallet(alice)["wallet_id"]
    fund(usd, 20_000)
    q = quote(alice, "USD", "EUR", buy_amount=2_500).json()
    body = {"from_wallet_id": usd, "to": {"email": bob.email}, "quote_id": q["quote_id"], "memo": "dinner"}
    r = alice.api.request("POST", "/transfers", dict(body, amount=100, currency="USD"),
                          headers={"Idempotency-Key": "x"})
    assert r.status_code == 400 and code(r) == "invalid_request"  # amount or quote, not both
    r = keyed(alice, "/transfers", dict(body, to={"email": uniq(), "invite": True}))
    assert r.status_code == 400 and code(r) == "invalid_request"  # no invitation with a quote
    key = uuid.uuid4().hex
    r = keyed(alice, "/transfers", body, key)
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["amount"] == q["sell"]["amount"] and t["currency"] == "USD"
    assert t["delivered"] == {"amount": 2_500, "currency": "EUR"}
    eur = [w for w in bob.api.request("GET", "/wallets").json()["items"] if w["currency"] == "EUR"]
    assert len(eur) == 1 and eur[0]["balance"] == 2_500 and t["to_wallet_id"] == eur[0]["wallet_id"]
    seen = bob.api.request("GET", f"/transfers/{t['transfer_id']}")
    assert seen.status_code == 200 and seen.json()["delivered"] == t["delivered"]
    assert keyed(alice, "/transfers", body, key).json() == t
    r = keyed(alice, "/transfers", body)
    assert r.status_code == 409 and code(r) == "quote_used"


def uniq() -> str:
    return f"nobody.{uuid.uuid4().hex[:10]}@example.com"


@pytest.mark.timeout(120)
def test_a_quote_expires_after_its_guarantee(new_user, fund):
    u = new_user()
    usd = default_wallet(u)["wallet_id"]
    fund(usd, 1_000)
    q = quote(u, "USD", "SGD", sell_amount=500).json()
    expires = datetime.fromisoformat(q["expires_at"].replace("Z", "+00:00")).timestamp()
    time.sleep(max(0.0, expires - time.time()) + 0.5)
    r = keyed(u, "/fx/exchanges", {"quote_id": q["quote_id"], "from_wallet_id": usd})
    assert r.status_code == 409 and code(r) == "quote_expired"
    assert u.api.request("GET", f"/wallets/{usd}").json()["balance"] == 1_000


def test_the_new_routes_are_in_openapi_with_their_errors(api):
    doc = api.request("GET", "/openapi.json").json()
    paths = doc["paths"]
    assert set(paths["/fx/quotes"]["post"]["responses"]) >= {"201", "400", "401", "422", "503"}
    assert set(paths["/fx/exchanges"]["post"]["responses"]) >= {"201", "400", "401", "404", "409", "422"}
    assert "rates_unavailable" in paths["/fx/rates"]["get"]["responses"]["503"]["description"]
    assert "quote_used" in paths["/transfers"]["post"]["responses"]["409"]["description"]


def test_ops_reconcile_shows_the_exchange_accounts(new_user, fund, ops):
    """`ops reconcile` shows each exchange account's position and the spread earned, per
    currency; an exchange grows the revenue of its sell currency by its fee."""
    before = ops("reconcile")["exchange"]
    u = new_user()
    usd = default_wallet(u)["wallet_id"]
    fund(usd, 10_000)
    q = quote(u, "USD", "EUR", sell_amount=5_000).json()
    assert keyed(u, "/fx/exchanges", {"quote_id": q["quote_id"], "from_wallet_id": usd}).status_code == 201
    after = ops("reconcile")
    assert after["ledger"]["drift"] == []
    fee = q["fee"]["amount"]
    assert fee > 0
    assert after["exchange"]["revenue"]["USD"] - before["revenue"].get("USD", 0) == fee
    assert all(v >= 0 for v in after["exchange"]["revenue"].values())
