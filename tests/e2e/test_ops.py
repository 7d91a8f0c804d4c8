"""The operators' tool (`python -m ops`) end to end: each command as a person runs it, against
the local stack, and what the people concerned then see through the API."""
from __future__ import annotations

import time
import uuid

import pytest

from chalicelib.domain.ids import rfc3339
from tests.e2e.conftest import uniq_email, wait_for
from tests.e2e.test_funding import balance, card, topup
from tests.e2e.test_ledger import code, default_wallet, send
from tests.e2e.test_offline import Phone, allow, device, enroll
from tests.e2e.test_payment_requests import ask, pay

STARTED: list[str] = []  # when this module's first test ran: the audit before is other modules'


@pytest.fixture(scope="module", autouse=True)
def _started() -> None:
    STARTED.append(rfc3339(time.time()))  # one clock: the stack runs on this machine
OPERATOR_ARN = "arn:aws:iam::123456789012:user/ops-local"  # devstack/operators.py


def error(answer: dict) -> str:
    return str(answer["error"]["code"])


def balances(user, wallet_id: str | None = None) -> tuple[int, int, int]:
    w = user.api.request("GET", f"/wallets/{wallet_id or default_wallet(user)['wallet_id']}").json()
    return w["balance"], w["held"], w["available"]


def statement_types(user) -> list[tuple[str, str, int]]:
    entries = user.api.request("GET", f"/wallets/{default_wallet(user)['wallet_id']}/transactions").json()["items"]
    return [(e["type"], e["direction"], e["amount"]) for e in entries]


def test_a_frozen_account_receives_but_sends_nothing(api, new_user, fund, ops, tmp_path):
    ann, bob = new_user(), new_user()
    wallet = default_wallet(ann)["wallet_id"]
    fund(wallet, 10_000)
    phone = device(ann, Phone(tmp_path / "ann"))  # before 2FA: its step-up is then the password
    _, recovery = enroll(ann)
    request = ask(bob, {"email": ann.email}, 500).json()
    carol = uniq_email("carol")  # invited before the freeze: not on the wallet yet
    invited = send(ann, {"from_wallet_id": wallet, "to": {"email": carol, "invite": True}, "amount": 300,
                         "currency": "USD"})
    assert invited.status_code == 201, invited.text

    assert error(ops("freeze", "--user-id", ann.user["user_id"], ok=False)) == "usage"  # no reason, no change
    frozen = ops("freeze", "--user-id", ann.user["user_id"], "--reason", "card fraud report 4711")
    assert frozen["changed"] and frozen["status"] == "frozen"
    assert ops("freeze", "--user-id", ann.user["user_id"], "--reason", "again")["changed"] is False

    # Every way out is refused with 403 account_frozen, and nothing moved...
    r = send(ann, {"from_wallet_id": wallet, "to": {"email": bob.email}, "amount": 1000, "currency": "USD"})
    assert (r.status_code, code(r)) == (403, "account_frozen")
    invite = {"from_wallet_id": wallet, "to": {"email": uniq_email(), "invite": True}, "amount": 100,
              "currency": "USD"}
    assert code(send(ann, invite)) == "account_frozen"
    assert code(pay(ann, request["request_id"], wallet)) == "account_frozen"
    assert code(ann.api.request("POST", "/withdrawals", {"wallet_id": wallet, "amount": 100, "otp": recovery[0]},
                                headers={"Idempotency-Key": uuid.uuid4().hex})) == "account_frozen"
    assert code(allow(ann, {"device_id": phone["device_id"], "wallet_id": wallet, "amount": 100,
                            "otp": recovery[1]})) == "account_frozen"
    assert balances(ann) == (10_000, 300, 9_700)
    # The invitation made before the freeze is not delivered while it lasts: Carol verifies her
    # address, and the money stays held for her.
    carol_user = new_user(email=carol)
    time.sleep(2)
    assert balances(ann) == (10_000, 300, 9_700) and balances(carol_user)[0] == 0
    # ...while money still comes in, and reading still works with the same token.
    bob_wallet = default_wallet(bob)["wallet_id"]
    fund(bob_wallet, 700)
    r = send(bob, {"from_wallet_id": bob_wallet, "to": {"email": ann.email}, "amount": 700, "currency": "USD"})
    assert r.status_code == 201, r.text
    assert balances(ann) == (10_700, 300, 10_400)
    assert ann.api.request("GET", "/me").status_code == 200
    login = api.request("POST", "/auth/login", {"email": ann.email, "password": "correct horse battery staple 42"})
    assert login.status_code == 200, login.text  # a frozen person still signs in, to read

    shown = ops("user", "show", "--email", ann.email)
    assert shown["user"]["status"] == "frozen" and shown["user"]["email"] == ann.email.split("@")[0] + "@example.com"
    assert shown["wallets"][0]["balance"] == 10_700 and shown["transfers"][0]["amount"] == 700
    assert [h["amount"] for h in shown["holds"]] == [300]

    assert ops("unfreeze", "--user-id", ann.user["user_id"], "--reason", "cleared by the bank")["changed"]
    r = pay(ann, request["request_id"], wallet)
    assert r.status_code == 201, r.text
    # Unfrozen, the scheduled sweep delivers the waiting invitation.
    assert wait_for(lambda: balances(carol_user)[0] == 300, timeout=60)
    assert balances(ann) == (9_900, 0, 9_900) and balances(bob, bob_wallet)[0] == 500


def test_a_reversal_restores_both_balances_once(new_user, fund, ops):
    ann, bob = new_user(), new_user()
    wallet = default_wallet(ann)["wallet_id"]
    fund(wallet, 3_000)
    paid = send(ann, {"from_wallet_id": wallet, "to": {"email": bob.email}, "amount": 1_200, "currency": "USD"})
    assert paid.status_code == 201, paid.text
    transfer_id = paid.json()["transfer_id"]
    assert balances(ann)[0] == 1_800 and balances(bob)[0] == 1_200

    done = ops("reverse", "--transfer-id", transfer_id, "--reason", "sent to the wrong person, ticket 88")
    assert done["changed"] and done["reversal"]["type"] == "reversal" and done["reversal"]["amount"] == 1_200
    assert balances(ann)[0] == 3_000 and balances(bob)[0] == 0
    assert statement_types(ann)[0] == ("reversal", "credit", 1_200)
    assert statement_types(bob)[0] == ("reversal", "debit", 1_200)
    assert ops("reverse", "--transfer-id", transfer_id, "--reason", "twice")["changed"] is False
    assert balances(ann)[0] == 3_000 and balances(bob)[0] == 0

    # A second payment whose recipient has spent it: refused, nothing moves (no negative wallet).
    again = send(ann, {"from_wallet_id": wallet, "to": {"email": bob.email}, "amount": 500, "currency": "USD"})
    spent = send(bob, {"from_wallet_id": default_wallet(bob)["wallet_id"], "to": {"email": ann.email},
                       "amount": 400, "currency": "USD"})
    assert spent.status_code == 201
    refused = ops("reverse", "--transfer-id", again.json()["transfer_id"], "--reason", "x", ok=False)
    assert error(refused) == "insufficient_funds"
    assert error(ops("reverse", "--transfer-id", again.json()["transfer_id"], "--reason", "x", "--allow-negative",
                    ok=False)) == "invalid_request"
    assert error(ops("reverse", "--transfer-id", "tr_nope", "--reason", "x", ok=False)) == "not_found"
    assert balances(bob)[0] == 100


def test_resolving_a_stuck_withdrawal_settles_its_hold_once(new_user, fund, ops, stack_container):
    ann = new_user()
    wallet = default_wallet(ann)["wallet_id"]
    fund(wallet, 2_000)
    _, recovery = enroll(ann)

    def withdraw(amount: int, otp: str) -> dict:
        r = ann.api.request("POST", "/withdrawals", {"wallet_id": wallet, "amount": amount, "otp": otp},
                            headers={"Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 202, r.text
        return dict(r.json())

    first, second = withdraw(600, recovery[0]), withdraw(300, recovery[1])
    assert balances(ann) == (2_000, 900, 1_100)
    refused = ops("withdrawal", "resolve", "--id", first["withdrawal_id"], "--outcome", "failed", "--reason", "x",
                  ok=False)
    assert error(refused) == "conflict"  # pending: Stripe may still answer, a person must not guess
    # The 23 hours in which Stripe remembers the payout's key pass: the resume job would mark
    # these withdrawals this way; here the test does, with the same repository call.
    for w in (first, second):
        assert stack_container.funding_repo.set_withdrawal_status(w["withdrawal_id"], "needs_attention",
                                                                  reason="payout outcome unknown past the window")
    listed = {w["withdrawal_id"] for w in ops("withdrawals", "--status", "needs_attention")["items"]}
    assert {first["withdrawal_id"], second["withdrawal_id"]} <= listed

    failed = ops("withdrawal", "resolve", "--id", first["withdrawal_id"], "--outcome", "failed", "--reason",
                 "Stripe dashboard: no payout was made")
    assert failed["changed"] and failed["withdrawal"]["status"] == "failed"
    assert balances(ann) == (2_000, 300, 1_700)
    paid = ops("withdrawal", "resolve", "--id", second["withdrawal_id"], "--outcome", "paid", "--reason",
               "Stripe dashboard: payout po_123 paid")
    assert paid["changed"] and paid["withdrawal"]["status"] == "paid"
    assert balances(ann) == (1_700, 0, 1_700)
    for w in (first, second):  # once: a second resolution changes nothing
        again = ops("withdrawal", "resolve", "--id", w["withdrawal_id"], "--outcome", "paid", "--reason", "again")
        assert again["changed"] is False
    assert balances(ann) == (1_700, 0, 1_700)
    statuses = {ann.api.request("GET", f"/withdrawals/{w['withdrawal_id']}").json()["status"] for w in (first, second)}
    assert statuses == {"failed", "paid"}


def test_reconcile_reports_the_ledger_and_the_last_days_topups_at_stripe(new_user, ops, stack, stack_container):
    import stripe

    stripe_api = stripe.StripeClient(stack["STRIPE_API_KEY"], base_addresses={"api": stack["STRIPE_API_BASE"]}).v1
    ann = new_user()
    pm = ann.api.request("POST", "/payment-methods", {"stripe_payment_method_id": card(stripe_api)}).json()
    made = topup(ann, pm["payment_method_id"], 2_500).json()
    assert wait_for(lambda: balance(ann)["balance"] == 2_500)
    report = ops("reconcile")
    assert report["ledger"]["ok"] and report["ledger"]["drift"] == [] and report["ledger"]["transfers"] > 0
    # Other tests of the session leave top-ups that really disagree with the stand-in (events
    # forged on purpose): only this one's verdict is asserted.
    assert report["stripe"]["checked"] >= 1
    assert made["topup_id"] not in {m["topup_id"] for m in report["stripe"]["mismatches"]}

    # Our record says one cent more than Stripe took: the report names that top-up.
    from chalicelib.adapters.dynamodb.models import TopUpRecord

    assert stack_container.tables_bound
    record = TopUpRecord.get(made["topup_id"])
    record.update(actions=[TopUpRecord.amount.set(2_501)])
    try:
        report = ops("reconcile")
        assert not report["ok"]
        mismatch = [m for m in report["stripe"]["mismatches"] if m["topup_id"] == made["topup_id"]]
        assert mismatch and "Stripe has 2500 USD, we have 2501 USD" in mismatch[0]["problems"]
    finally:
        record.update(actions=[TopUpRecord.amount.set(2_500)])


def test_the_audit_lists_every_command_with_who_and_why(ops):
    items = ops("audit", "--since", STARTED[0])["items"]
    commands = {(i["command"], i["outcome"]) for i in items}
    assert {("freeze", "done"), ("freeze", "no_change"), ("unfreeze", "done"), ("reverse", "done"),
            ("reverse", "no_change"), ("reverse", "refused"), ("withdrawal resolve", "done"),
            ("withdrawal resolve", "no_change"), ("withdrawal resolve", "refused"), ("user show", "read"),
            ("withdrawals", "read"), ("reconcile", "read")} <= commands
    freeze = next(i for i in items if i["command"] == "freeze" and i["reason"] == "card fraud report 4711")
    assert freeze["outcome"] == "done" and freeze["before"] == {"status": "active"}
    # Who: the IAM user whose signature the admin API verified (the stack's operator), not a claim.
    assert freeze["after"] == {"status": "frozen"} and freeze["actor"] == OPERATOR_ARN
    assert {i["actor"] for i in items if i["command"] in ("user show", "reverse", "withdrawal resolve")} == {
        OPERATOR_ARN}
    assert all(i["at"] >= STARTED[0] for i in items)
    assert error(ops("audit", "--since", "yesterday", ok=False)) == "usage"
