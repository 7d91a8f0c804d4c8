"""The account-status item every payment's transaction checks (models.AccountStatusRecord), on
DynamoDB Local: written at registration and with every change of status, and, for an account
whose status was set before the item existed, written from the user item the first time a
payment fails closed on its absence. No account frozen or closed before then slips through."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.adapters.dynamodb.models import AccountStatusRecord, UserRecord
from chalicelib.domain.errors import AccountFrozen
from chalicelib.services.reconcile import reconcile
from tests.integration.test_ledger_dynamodb import fund, pay, person

OPERATOR = "arn:aws:sts::123456789012:user/test"


def status_item(user_id: str) -> str | None:
    found = AccountStatusRecord.find(user_id)
    return found.status if found else None


def as_before_the_item(user_id: str, status: str | None) -> None:
    """The account as an older version left it: its status on the user item only (None: no
    status attribute at all, as accounts made before statuses existed), no status item."""
    AccountStatusRecord(user_id=user_id).delete()
    user = UserRecord(user_id=user_id)
    user.update(actions=[UserRecord.status.set(status) if status else UserRecord.status.remove()])


def payer_as_before(c, status: str | None) -> tuple[str, str, str]:
    """(payer, payer's wallet holding 1,000, payee's wallet), the payer as `as_before_the_item`."""
    a, _, wa = person(c)
    _, _, wb = person(c)
    fund(c.ledger, wa, 1_000)
    as_before_the_item(a, status)
    return a, wa, wb


def test_registration_writes_the_item_active(stack_container):
    a, _, _ = person(stack_container)
    assert status_item(a) == "active"


@pytest.mark.parametrize("status", ["frozen", "closed"])
def test_an_account_frozen_or_closed_before_the_item_existed_sends_nothing(stack_container, status):
    ledger = stack_container.ledger
    a, wa, wb = payer_as_before(stack_container, status)
    with pytest.raises(AccountFrozen):
        pay(ledger, a, wa, {"wallet_id": wb}, 100)
    assert status_item(a) == status  # written from the user item, failing closed
    with pytest.raises(AccountFrozen):  # and from the item now
        pay(ledger, a, wa, {"wallet_id": wb}, 100)
    assert ledger.store.get_wallet(wa).balance == 1_000 and ledger.store.get_wallet(wb).balance == 0


@pytest.mark.parametrize("status", ["active", None])
def test_an_active_account_without_the_item_pays_and_gets_it(stack_container, status):
    ledger = stack_container.ledger
    a, wa, wb = payer_as_before(stack_container, status)
    pay(ledger, a, wa, {"wallet_id": wb}, 100)
    assert status_item(a) == "active"
    assert ledger.store.get_wallet(wa).balance == 900 and ledger.store.get_wallet(wb).balance == 100


def test_a_freeze_and_unfreeze_write_both_items(stack_container):
    ops = stack_container.operations(OPERATOR)
    ledger = stack_container.ledger
    a, _, wa = person(stack_container)
    _, _, wb = person(stack_container)
    fund(ledger, wa, 1_000)
    as_before_the_item(a, None)  # an operator's change also writes a missing item
    ops.set_frozen(a, True, "test")
    assert status_item(a) == "frozen" and UserRecord.get(a).status == "frozen"
    with pytest.raises(AccountFrozen):
        pay(ledger, a, wa, {"wallet_id": wb}, 100)
    ops.set_frozen(a, False, "test")
    assert status_item(a) == "active" and UserRecord.get(a).status == "active"
    pay(ledger, a, wa, {"wallet_id": wb}, 100)
    assert ledger.store.get_wallet(wb).balance == 100


def test_first_payments_without_the_item_racing_a_freeze(stack_container):
    """Many first payments of an account that has no status item yet, each one failing closed
    and writing it, race an operator's freeze: each payment is entire or refused, the item ends
    frozen, and nothing is paid after."""
    ops = stack_container.operations(OPERATOR)
    ledger = stack_container.ledger
    a, _, wa = person(stack_container)
    _, _, wb = person(stack_container)
    fund(ledger, wa, 100_000)
    as_before_the_item(a, "active")

    def one(i: int) -> str:
        if i == 6:
            ops.set_frozen(a, True, "racing test")
            return "froze"
        try:
            pay(ledger, a, wa, {"wallet_id": wb}, 100)
            return "paid"
        except AccountFrozen:
            return "frozen"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(one, range(24)))
    paid = outcomes.count("paid")
    assert paid + outcomes.count("frozen") == 23
    assert status_item(a) == "frozen" and UserRecord.get(a).status == "frozen"
    with pytest.raises(AccountFrozen):
        pay(ledger, a, wa, {"wallet_id": wb}, 1)
    assert ledger.store.get_wallet(wa).balance == 100_000 - 100 * paid
    assert ledger.store.get_wallet(wb).balance == 100 * paid
    report = reconcile(stack_container.ledger_store)
    assert report.ok, report.drift[:5]


def test_no_user_no_item(stack_container):
    """A status item is only ever written from a user item: no user, nothing sent, nothing written."""
    from chalicelib.adapters.dynamodb import account_status

    c = stack_container
    ddb, t = c.ledger.store._ddb, c.ledger.store.t
    assert not account_status.write_missing(ddb, t[AccountStatusRecord], t[UserRecord], "usr_nobody")
    assert status_item("usr_nobody") is None


def test_freezing_a_frozen_account_again_restates_the_item(stack_container):
    """The deploy's window: a previous version froze the user item alone while the account's
    status item (written at registration) still says active. The operator's freeze, run again,
    answers unchanged and writes the item, and from then on nothing is sent."""
    ops = stack_container.operations(OPERATOR)
    ledger = stack_container.ledger
    a, _, wa = person(stack_container)
    _, _, wb = person(stack_container)
    fund(ledger, wa, 1_000)
    UserRecord(user_id=a).update(actions=[UserRecord.status.set("frozen")])
    assert status_item(a) == "active"
    assert ops.set_frozen(a, True, "again after the deploy")["changed"] is False
    assert status_item(a) == "frozen"
    with pytest.raises(AccountFrozen):
        pay(ledger, a, wa, {"wallet_id": wb}, 100)
    assert ledger.store.get_wallet(wa).balance == 1_000
