"""A withdrawal whose first call stopped between the hold and Stripe is finished later, once."""
from __future__ import annotations

import uuid

import pytest

from chalicelib.adapters.dynamodb.funding import DynamoFunding
from chalicelib.domain.commands import SendTransfer, WithdrawMoney
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.ids import new_id
from chalicelib.domain.money import Money
from chalicelib.services.funding import Funding
from tests.fakes import UnusedGateway


class FlakyPayouts(UnusedGateway):
    platform_payouts = True

    def __init__(self):
        self.calls: list[str] = []
        self.down = True

    def create_payout(self, *, amount, currency, account_id, withdrawal_id, metadata):
        self.calls.append(withdrawal_id)
        if self.down:
            raise ServiceUnavailable()
        return f"po_{withdrawal_id[-8:]}"

    def find_payout(self, account_id, withdrawal_id):
        return None  # never made: every attempt above timed out before Stripe


class AlwaysOk:
    def require(self, user_id, otp, **_where):
        return None


@pytest.fixture
def funding(stack_container, stack_settings):
    gateway = FlakyPayouts()
    clock = [__import__("time").time()]
    f = Funding(repo=DynamoFunding(), gateway=gateway, ledger=stack_container.ledger, mfa=AlwaysOk(),
                cipher=stack_container.cipher, now=lambda: clock[0])
    return f, gateway, clock


def test_crash_between_hold_and_payout_is_resumed_once(stack_container, funding):
    from tests.integration.test_ledger_dynamodb import person

    f, gateway, clock = funding
    user_id, _, wallet = person(stack_container)
    stack_container.ledger.credit_from_system("stripe_clearing", wallet, Money(1000, "USD"), new_id("tp"))
    key = uuid.uuid4().hex
    with pytest.raises(ServiceUnavailable):
        f.withdraw(user_id, key, WithdrawMoney(wallet, 400), otp="x")
    held = stack_container.ledger_store.get_wallet(wallet)
    assert (held.balance, held.held) == (1000, 400)  # held, not lost, not paid

    gateway.down = False
    calls = len(gateway.calls)
    f.resume_stuck_withdrawals(older_than_seconds=900)  # too recent: a retry may still come
    assert len(gateway.calls) == calls
    clock[0] += 901
    assert f.resume_stuck_withdrawals(older_than_seconds=900)["resumed"] >= 1
    withdrawal_id = gateway.calls[-1]
    assert f.repo.withdrawal(withdrawal_id).payout_id
    # The client's retry now replays; nothing is held twice.
    again = f.withdraw(user_id, key, WithdrawMoney(wallet, 400), otp="x")
    assert again.replayed and again.body["provider_reference"]
    assert stack_container.ledger_store.get_wallet(wallet).held == 400


def test_withdrawals_count_toward_the_daily_outgoing_limit(stack_container, stack_settings):
    from chalicelib.domain.ledger import LimitExceeded
    from chalicelib.services.ledger import Ledger, LedgerPolicy
    from tests.integration.test_ledger_dynamodb import person

    c = stack_container
    small = Ledger(store=c.ledger_store, users=c.users, blind_index=c.blind_index, cipher=c.cipher,
                   policy=LedgerPolicy(("USD",), "USD", max_transfer_major=100, daily_limit_major=10))
    gateway = FlakyPayouts()
    gateway.down = False
    f = Funding(repo=DynamoFunding(), gateway=gateway, ledger=small, mfa=AlwaysOk(), cipher=c.cipher)
    user_id, _, wallet = person(c)
    _, _, other = person(c)
    small.credit_from_system("stripe_clearing", wallet, Money(5000, "USD"), new_id("tp"))
    small.transfer(user_id, uuid.uuid4().hex, SendTransfer.of({"from_wallet_id": wallet, "to": {"wallet_id": other},
                                                                "amount": 600, "currency": "USD"}))
    with pytest.raises(LimitExceeded):
        f.withdraw(user_id, uuid.uuid4().hex, WithdrawMoney(wallet, 500), otp="x")
    assert c.ledger_store.get_wallet(wallet).held == 0
    out = f.withdraw(user_id, uuid.uuid4().hex, WithdrawMoney(wallet, 400), otp="x")
    assert out.body["status"] == "pending"
