"""Commands at the use cases' boundary keep the idempotency hash of every request as it was.

A stored idempotency record holds the keyed hash of the request that made it; a retry after a
deploy must hash the same HTTP body to the same value, or it would be refused as a different
request (409) or, worse, not recognised. The expected values below were computed with the code
path before the commands (the route's `model_dump(exclude_none=True)`, `invite: false` dropped
for transfers, `otp` left out of allowances and withdrawals) and must never change.
"""
from __future__ import annotations

import hashlib
from typing import Any

import pytest

from chalicelib.api.funding import TopUpIn, WithdrawalIn
from chalicelib.api.fx import ExchangeIn
from chalicelib.api.offline import AllowanceIn, RedeemIn
from chalicelib.api.payment_requests import PaymentRequestIn
from chalicelib.api.wallets import TransferIn
from chalicelib.domain.commands import (
    Address,
    RedeemVouchers,
    RequestPayment,
    SendTransfer,
)
from chalicelib.domain.ledger import request_hash


def mac(text: str) -> str:  # any fixed keyed hash: the pinned part is the canonical request
    return hashlib.sha256(text.encode()).hexdigest()


TRANSFERS = {
    "d0abdf512f7e6677174f749e755f4f70efadee8b6b468f80bdc5f909b711e1a6": {
        "from_wallet_id": "wal_a", "to": {"wallet_id": "wal_b"}, "amount": 1250, "currency": "USD", "memo": "lunch"},
    "67c5f67f00428b85a23a65e7bda6ab320a2660746f6e0d839995182c5865078c": {  # `invite: false` is no invite
        "from_wallet_id": "wal_a", "to": {"email": "Bob@Example.com", "invite": False}, "amount": 1,
        "currency": "EUR"},
    "b621bad8960d3440f4303a498a02bde10892900cdd1550b40cb6ad02e3852629": {
        "from_wallet_id": "wal_a", "to": {"phone": "+6591234567", "invite": True}, "amount": 99, "currency": "SGD",
        "memo": "café ☕"},
    "78038b5f48ab0f907084847f349bb7fb3ca5d009e780f836f91a8871f89c2b8f": {  # nulls are left out
        "from_wallet_id": "wal_a", "to": {"wallet_id": "wal_b", "phone": None}, "quote_id": "q_1", "memo": None},
}

PAYMENT_REQUESTS = {
    "8ff09616f7e141cc9d530750ea305dc9445c2b2a6f15617d79f962cb3a6f2f7a": {
        "payer": {"email": "ann@example.com"}, "amount": 500, "currency": "USD", "memo": "rent", "expires_in": 3600},
    "cd07731cf62b42f9e9a97af184999ea6388f40b29f04b7c3bca1178cf09c954a": {
        "payer": {"phone": "+6591234567"}, "amount": 5, "currency": "SGD"},
}


@pytest.mark.parametrize(("expected", "body"), TRANSFERS.items())
def test_a_transfer_hashes_as_before(expected: str, body: dict[str, Any]) -> None:
    command = TransferIn.model_validate(body).command()
    assert request_hash("transfers", command.as_request(), mac) == expected
    assert SendTransfer.of(command.as_request()) == command  # the JSON shape reads back the same


def test_an_email_without_invite_is_the_same_request_as_invite_false() -> None:
    plain = {"from_wallet_id": "wal_a", "to": {"email": "Bob@Example.com"}, "amount": 1, "currency": "EUR"}
    assert request_hash("transfers", TransferIn.model_validate(plain).command().as_request(), mac) == (
        "67c5f67f00428b85a23a65e7bda6ab320a2660746f6e0d839995182c5865078c")
    assert TransferIn.model_validate(plain).command().to_address == Address("email", "Bob@Example.com")


@pytest.mark.parametrize(("expected", "body"), PAYMENT_REQUESTS.items())
def test_a_payment_request_hashes_as_before(expected: str, body: dict[str, Any]) -> None:
    command = PaymentRequestIn.model_validate(body).command()
    assert request_hash("payment-requests", command.as_request(), mac) == expected
    assert RequestPayment.of(command.as_request()) == command


OTHERS = [  # (operation, body model, body, expected)
    ("fx_exchanges", ExchangeIn, {"quote_id": "q_1", "from_wallet_id": "wal_a"},
     "c3e05511380f6af207d26cd652cc53682fbe4d95d40591c1a71e1753231815b2"),
    ("fx_exchanges", ExchangeIn, {"quote_id": "q_1", "from_wallet_id": "wal_a", "to_wallet_id": "wal_c"},
     "98e370728a42481a4012f92fab0b7213ec78133788abbf43d7c867b4d0f9e6f4"),
    ("offline.allowances", AllowanceIn,  # the otp is the step-up's, not the request's
     {"device_id": "dev_1", "wallet_id": "wal_a", "amount": 2000, "expires_in": 7200, "otp": "123456"},
     "f856dc4ce88cadacf21716576e5690b104455e99345f382a2b8a07eb34981222"),
    ("offline.allowances", AllowanceIn, {"device_id": "dev_1", "wallet_id": "wal_a", "amount": 2000},
     "b0b0370d4fe15c9a0c96b266b164dae84fcd7286b089727517a880a39f691f67"),
    ("topups", TopUpIn, {"wallet_id": "wal_a", "amount": 5000, "payment_method_id": "pmt_1"},
     "f00662b0ad955e24537c4a12329ae552aadc008677c173fd1be3655cca19c2e2"),
    ("topups", TopUpIn,  # unknown fields are ignored, as by the body model before
     {"wallet_id": "wal_b", "amount": 1, "payment_method_id": "pmt_x", "extra": "ignored"},
     "dfb3e80f80bbdd7ea0b438c70bc9950ab22ea5e3da5a023a532312c4a9e462be"),
    ("withdrawals", WithdrawalIn, {"wallet_id": "wal_a", "amount": 2500, "otp": "123456"},  # the otp is the step-up's
     "14090d5162b45de8275e41ec884a1d23ff41800473b6013983c571b6395c9c5f"),
    ("withdrawals", WithdrawalIn, {"wallet_id": "wal_a", "amount": 2500},
     "14090d5162b45de8275e41ec884a1d23ff41800473b6013983c571b6395c9c5f"),
    ("withdrawals", WithdrawalIn, {"wallet_id": "wal_c", "amount": 7},
     "0418aa5df7d8c270c75dbab611114300ece3166021beb91fb77a78a5d7c9cb56"),
]


@pytest.mark.parametrize(("operation", "model", "body", "expected"), OTHERS)
def test_exchanges_allowances_topups_and_withdrawals_hash_as_before(operation: str, model: Any, body: dict[str, Any],
                                                 expected: str) -> None:
    command = model.model_validate(body).command()
    assert request_hash(operation, command.as_request(), mac) == expected
    assert type(command).of(command.as_request()) == command


def test_a_redemption_hashes_as_before() -> None:
    body = RedeemIn.model_validate({"certificate": "a.b.c", "vouchers": ["d.e.f", "g.h.i"]})
    assert request_hash("offline.redeem", body.redemption().as_request(), mac) == (
        "3207f4b8496d20f06a2e658c14f3dd1d6c23db46aabb1e1d3bd31973fbe7a142")
    assert RedeemVouchers.of(body.redemption().as_request()) == body.redemption()


def test_the_wallet_view_and_the_documented_answer_name_the_same_fields():
    """The use case's typed view and the HTTP document's model describe one JSON answer at two
    layers (domain.results, api.wallets): they must not drift apart."""
    from typing import get_type_hints

    from chalicelib.api.wallets import WalletOut
    from chalicelib.domain.results import WalletView

    assert {k: v.annotation for k, v in WalletOut.model_fields.items()} == get_type_hints(WalletView)
