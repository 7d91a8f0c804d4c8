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

    def request(self, method, url, headers, post_data=None, *, _usage=None):  # type: ignore[override]
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
    assert account.onboarding_url and account.onboarding_url.startswith("https://connect.stripe.com/")
    (m1, p1, h1, b1), (_m2, p2, _, b2) = http.sent
    assert (m1, p1, b1["type"], h1["Idempotency-Key"]) == ("POST", "/v1/accounts", ["express"], "account-usr_1")
    assert (p2, b2["account"], b2["type"]) == ("/v1/account_links", ["acct_1RecordedExpress"], ["account_onboarding"])


def test_connect_accounts_are_opened_with_manual_payouts():
    # Stripe's automatic schedule would sweep the money a withdrawal transfers before our payout.
    http = RecordedHttp()
    gateway(http).open_payout_account("usr_1", None)
    (_, _, _, body), _ = http.sent
    assert body["settings[payouts][schedule][interval]"] == ["manual"]


def test_connect_transfer_is_grouped_by_withdrawal_and_keyed():
    http = RecordedHttp()
    tid = gateway(http).transfer_to_account(amount=600, currency="USD", account_id="acct_1RecordedExpress",
                                            withdrawal_id="wd_1", metadata={"withdrawal_id": "wd_1"})
    assert tid == "tr_1RecordedTransfer"
    ((_, path, headers, body),) = http.sent
    assert (path, body["destination"], body["amount"], body["currency"], body["transfer_group"]) == (
        "/v1/transfers", ["acct_1RecordedExpress"], ["600"], ["usd"], ["wd_1"])
    assert headers["Idempotency-Key"] == "wd_1-transfer"


def test_a_transfer_whose_answer_was_lost_is_found_by_its_group():
    http = RecordedHttp()
    assert gateway(http).find_transfer("wd_1") == "tr_1RecordedTransfer"
    assert gateway(RecordedHttp()).find_transfer("wd_2") is None
    ((method, path, _, _),) = http.sent
    assert (method, path) == ("GET", "/v1/transfers")


def test_connect_payout_leaves_the_connected_account_with_its_own_key():
    http = RecordedHttp()
    pid = gateway(http).create_payout(amount=600, currency="USD", account_id="acct_1RecordedExpress",
                                      withdrawal_id="wd_1", metadata={"withdrawal_id": "wd_1"})
    assert pid == "po_1RecordedPayout"
    ((_, path, headers, body),) = http.sent
    assert path == "/v1/payouts" and headers["Stripe-Account"] == "acct_1RecordedExpress"
    assert headers["Idempotency-Key"] == "wd_1-payout" and body["currency"] == ["usd"]


def test_a_payout_whose_answer_was_lost_is_found_by_its_metadata():
    http = RecordedHttp()
    assert gateway(http).find_payout("acct_1RecordedExpress", "wd_1") == "po_1RecordedPayout"
    assert gateway(RecordedHttp()).find_payout("acct_1RecordedExpress", "wd_9") is None
    ((method, path, headers, _),) = http.sent
    assert (method, path, headers["Stripe-Account"]) == ("GET", "/v1/payouts", "acct_1RecordedExpress")


def test_a_transfer_is_reversed_idempotently():
    http = RecordedHttp()
    assert gateway(http).reverse_transfer("tr_1RecordedTransfer", 600, "wd_1") == "trr_1RecordedReversal"
    ((_, path, headers, body),) = http.sent
    assert path == "/v1/transfers/tr_1RecordedTransfer/reversals" and body["amount"] == ["600"]
    assert headers["Idempotency-Key"] == "wd_1-reversal"


def test_payout_amounts_come_from_the_payout_itself_in_connect_mode():
    g = gateway(RecordedHttp())
    assert g.payout_amount({"amount": 600, "currency": "usd", "metadata": {"amount": "1"}}) == (600, "USD")
    local = gateway(RecordedHttp(), platform=True)
    # Locally the stand-in pays out in EUR only; our figures travel in the metadata.
    assert local.payout_amount({"amount": 600, "currency": "eur",
                                "metadata": {"amount": "600", "currency": "JPY"}}) == (600, "JPY")
    assert local.payout_amount({"metadata": {"amount": "x"}}) == (-1, "")


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


def test_an_existing_account_is_switched_to_manual_payouts():
    http = RecordedHttp(body={"id": "acct_1RecordedExpress", "object": "account",
                              "url": "https://connect.stripe.com/setup/e/x"})
    gateway(http).open_payout_account("usr_1", "acct_1RecordedExpress")
    (method, path, _, body) = http.sent[0]
    assert (method, path) == ("POST", "/v1/accounts/acct_1RecordedExpress")
    assert body["settings[payouts][schedule][interval]"] == ["manual"]


@pytest.mark.parametrize("status,body", [
    (403, {"error": {"type": "invalid_request_error", "message": "not permitted"}}),
    (400, {"error": {"type": "invalid_request_error", "message": "bad"}}),
    (500, {"error": {"type": "api_error", "message": "boom"}}),
])
def test_a_failed_look_up_is_an_unknown_never_a_refusal(status, body):
    # A refusal means "nothing was sent"; a look-up that fails proves nothing of the kind.
    with pytest.raises(ServiceUnavailable):
        gateway(RecordedHttp(status, body)).find_transfer("wd_1")
    with pytest.raises(ServiceUnavailable):
        gateway(RecordedHttp(status, body)).find_payout("acct_1", "wd_1")


def _refund(amount: int, status: str) -> dict:
    return {"id": f"re_{amount}", "object": "refund", "amount": amount, "status": status, "currency": "usd",
            "charge": "ch_1", "metadata": {}}


def test_the_refunds_of_a_charge_count_failed_ones_and_follow_pages():
    page = {"object": "list", "url": "/v1/refunds", "has_more": False,
            "data": [_refund(50, "succeeded"), _refund(30, "failed")]}
    http = RecordedHttp(body=page)
    assert gateway(http).refunds_of("ch_1") == [50, 30]
    (method, path, _, _), = http.sent
    assert (method, path) == ("GET", "/v1/refunds")


def test_refunds_stripe_will_not_list_are_none_and_an_outage_is_unknown():
    missing = {"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such charge"}}
    assert gateway(RecordedHttp(status=404, body=missing)).refunds_of("ch_x") is None
    with pytest.raises(ServiceUnavailable):
        gateway(RecordedHttp(status=500, body={"error": {"type": "api_error", "message": "boom"}})).refunds_of("ch_1")


def test_a_reversal_is_looked_up_among_the_transfers_reversals():
    rev = {"id": "trr_1", "object": "transfer_reversal", "amount": 600, "transfer": "tr_1",
           "metadata": {"withdrawal_id": "wd_1"}}
    page = {"object": "list", "url": "/v1/transfers/tr_1/reversals", "has_more": False, "data": [rev]}
    assert gateway(RecordedHttp(body=page)).find_reversal("tr_1", "wd_1") == "trr_1"
    assert gateway(RecordedHttp(body=page)).find_reversal("tr_1", "wd_2") is None
