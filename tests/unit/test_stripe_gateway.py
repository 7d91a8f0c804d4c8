"""The gateway's Connect path against recorded Stripe responses (the local stand-in has no
Connect), driven through stripe-python's real request code; and its error mapping."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import stripe

from chalicelib.adapters.stripe_gateway import CardDeclined, PaymentProviderError, StripeGateway
from chalicelib.domain.errors import InvalidRequest, ServiceUnavailable

RECORDED = json.loads((Path(__file__).parent / "recorded" / "connect.json").read_text())


class RecordedHttp(stripe.HTTPClient):
    """Answers each (method, path) with its recorded body; keeps what was sent."""

    name = "recorded"

    def __init__(self, status: int = 200, body: dict | None = None):
        super().__init__()
        self.sent: list[tuple[str, str, dict, dict]] = []
        self._status, self._body = status, body

    def request(self, method, url, headers, post_data=None):
        path = urlparse(url).path
        self.sent.append((method.upper(), path, dict(headers), parse_qs(post_data or "")))
        body = self._body if self._body is not None else RECORDED[f"{method.upper()} {path}"]
        return json.dumps(body), self._status, {"request-id": "req_recorded"}

    def close(self):
        pass


def gateway(http: RecordedHttp, platform: bool = False) -> StripeGateway:
    return StripeGateway("sk_test_recorded", platform_payouts=platform, client_factory=lambda: stripe.StripeClient(
        "sk_test_recorded", http_client=http, max_network_retries=0).v1)


def test_connect_onboarding_creates_an_express_account_and_a_link():
    http = RecordedHttp()
    account = gateway(http).open_payout_account("usr_1", None)
    assert (account.account_id, account.status) == ("acct_1RecordedExpress", "onboarding")
    assert account.onboarding_url.startswith("https://connect.stripe.com/")
    (m1, p1, h1, b1), (_m2, p2, _, b2) = http.sent
    assert (m1, p1, b1["type"], h1["Idempotency-Key"]) == ("POST", "/v1/accounts", ["express"], "account-usr_1")
    assert (p2, b2["account"], b2["type"]) == ("/v1/account_links", ["acct_1RecordedExpress"], ["account_onboarding"])


def test_connect_payout_transfers_then_pays_out_on_the_connected_account():
    http = RecordedHttp()
    payout_id = gateway(http).payout(amount=600, currency="USD", account_id="acct_1RecordedExpress",
                                      metadata={"withdrawal_id": "wd_1"}, key="wd_1")
    assert payout_id == "po_1RecordedPayout"
    (_, p1, h1, b1), (_, p2, h2, _b2) = http.sent
    assert (p1, b1["destination"], b1["amount"], b1["currency"]) == ("/v1/transfers", ["acct_1RecordedExpress"],
                                                                     ["600"], ["usd"])
    assert h1["Idempotency-Key"] == "wd_1-transfer" and h2["Idempotency-Key"] == "wd_1-payout"
    assert p2 == "/v1/payouts" and h2["Stripe-Account"] == "acct_1RecordedExpress"


class PayoutRefused(RecordedHttp):
    def request(self, method, url, headers, post_data=None):
        if urlparse(url).path == "/v1/payouts":
            self.sent.append((method.upper(), "/v1/payouts", dict(headers), {}))
            return json.dumps({"error": {"type": "invalid_request_error", "message": "payouts disabled"}}), 400, {}
        return super().request(method, url, headers, post_data)


def test_a_refused_payout_after_the_transfer_is_never_a_definitive_failure():
    # The money already sits in the connected account: the hold must not be given back.
    http = PayoutRefused()
    with pytest.raises(ServiceUnavailable):
        gateway(http).payout(amount=600, currency="USD", account_id="acct_1RecordedExpress",
                             metadata={"withdrawal_id": "wd_1"}, key="wd_1")
    assert [p for _, p, _, _ in http.sent] == ["/v1/transfers", "/v1/payouts"]


def test_platform_mode_needs_no_account():
    http = RecordedHttp()
    assert gateway(http, platform=True).open_payout_account("usr_1", None).status == "enabled"
    assert http.sent == []


@pytest.mark.parametrize("status,body,error", [
    (402, {"error": {"type": "card_error", "code": "card_declined", "message": "declined"}}, CardDeclined),
    (400, {"error": {"type": "invalid_request_error", "message": "No such PaymentMethod"}}, InvalidRequest),
    (429, {"error": {"type": "rate_limit_error", "message": "slow down"}}, ServiceUnavailable),
    (500, {"error": {"type": "api_error", "message": "boom"}}, ServiceUnavailable),  # outcome unknown
    (409, {"error": {"type": "idempotency_error", "message": "key in use"}}, ServiceUnavailable),
    (403, {"error": {"type": "invalid_request_error", "message": "not permitted"}}, PaymentProviderError),
])
def test_stripe_errors_become_domain_errors(status, body, error):
    g = gateway(RecordedHttp(status, body))
    with pytest.raises(error):
        g.attach_payment_method("pm_x", "cus_x")
