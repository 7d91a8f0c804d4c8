"""Verified contacts, account recovery and invitations over HTTP, codes read from the local
outbox (moto's record of what went out through SES and SNS)."""
from __future__ import annotations

import time
import uuid

from tests.e2e.conftest import PASSWORD, Api, User, uniq_email, uniq_phone, verify_contact
from tests.outbox import last_code, messages_to

NEW_PASSWORD = "a completely new passphrase 5"


def code(r):
    return r.json()["error"]["code"]


def other(real: str) -> str:
    return "000000" if real != "000000" else "111111"


def test_verify_email_and_phone_then_log_in_by_phone(api, stack, new_user):
    u = new_user(verified=False)
    assert u.api.request("GET", "/me").json()["email_verified"] is False
    r = u.api.request("POST", "/me/verify", {"channel": "phone"})
    assert r.status_code == 400 and code(r) == "invalid_request"  # no phone yet
    r = u.api.request("POST", "/me/verify", {"channel": "email"})
    assert r.status_code == 202 and r.json() == {"channel": "email", "sent_to": u.email[0] + "***@example.com"}
    real = last_code(stack["AWS_ENDPOINT"], u.email)
    [mail] = messages_to(stack["AWS_ENDPOINT"], u.email)
    assert "E-Wallet" in mail and real in mail and PASSWORD not in mail
    r = u.api.request("POST", "/me/verify/confirm", {"channel": "email", "code": other(real)})
    assert r.status_code == 422 and code(r) == "invalid_code"
    r = u.api.request("POST", "/me/verify/confirm", {"channel": "email", "code": real})
    assert r.status_code == 200 and r.json()["email_verified"] is True
    r = u.api.request("POST", "/me/verify", {"channel": "email"})
    assert r.status_code == 409 and code(r) == "already_verified"

    phone = uniq_phone()
    r = u.api.request("PATCH", "/me", {"phone": phone.replace("+65", "+65 "), "first_name": "Ada",
                                       "password": PASSWORD})
    assert r.status_code == 200 and r.json()["phone"] == phone and r.json()["phone_verified"] is False
    assert r.json()["first_name"] == "Ada"
    login = api.request("POST", "/auth/login", {"phone": phone, "password": PASSWORD})
    assert login.status_code == 401  # not before the phone is verified
    r = u.api.request("POST", "/me/verify", {"channel": "phone"})
    assert r.status_code == 202 and r.json()["sent_to"] == f"+65 ****{phone[-4:]}"
    sms = last_code(stack["AWS_ENDPOINT"], phone)
    r = u.api.request("POST", "/me/verify/confirm", {"channel": "phone", "code": sms})
    assert r.status_code == 200 and r.json()["phone_verified"] is True
    assert api.request("POST", "/auth/login", {"phone": phone, "password": PASSWORD}).status_code == 200


def test_codes_expire_when_replaced_and_sends_are_limited(stack, new_user):
    u = new_user(verified=False)
    r = u.api.request("POST", "/me/verify/confirm", {"channel": "email", "code": "123456"})
    assert r.status_code == 422 and code(r) == "code_expired"  # never sent
    codes = []
    for _ in range(5):
        assert u.api.request("POST", "/me/verify", {"channel": "email"}).status_code == 202
        codes.append(last_code(stack["AWS_ENDPOINT"], u.email))
    r = u.api.request("POST", "/me/verify", {"channel": "email"})
    assert r.status_code == 429 and code(r) == "too_many_requests" and int(r.headers["Retry-After"]) > 0
    if codes[0] != codes[-1]:
        r = u.api.request("POST", "/me/verify/confirm", {"channel": "email", "code": codes[0]})
        assert r.status_code == 422 and code(r) == "code_expired"  # replaced
    for bad in ({"channel": "fax", "code": "123456"}, {"channel": "email"}, {"code": "123456"}):
        r = u.api.request("POST", "/me/verify/confirm", bad)
        assert r.status_code == 400 and code(r) == "invalid_request", bad
    assert u.api.request("GET", "/me").json()["email_verified"] is False


def test_the_first_to_verify_a_phone_owns_it(api, stack, new_user):
    phone = uniq_phone()
    a, b = new_user(verified=False, phone=phone), new_user(verified=False, phone=phone)
    assert b.api.request("POST", "/me/verify", {"channel": "phone"}).status_code == 202
    code_b = last_code(stack["AWS_ENDPOINT"], phone)
    verify_contact(stack, a, "phone")
    r = b.api.request("POST", "/me/verify/confirm", {"channel": "phone", "code": code_b})
    assert r.status_code == 409 and code(r) == "phone_taken"
    r = api.request("POST", "/auth/register", {"email": uniq_email(), "password": PASSWORD, "phone": phone})
    assert r.status_code == 409 and code(r) == "phone_taken"
    r = new_user().api.request("PATCH", "/me", {"phone": phone, "password": PASSWORD})
    assert r.status_code == 409 and code(r) == "phone_taken"
    assert b.api.request("GET", "/me").json()["phone_verified"] is False


def test_only_verified_contacts_receive_money(stack, new_user, stack_container):
    from tests.e2e.test_ledger import default_wallet, send

    alice, bob = new_user(), new_user(verified=False, phone=uniq_phone())
    _fund(stack_container, default_wallet(alice)["wallet_id"], 1000)
    wa = default_wallet(alice)["wallet_id"]
    for to in ({"email": bob.email}, {"phone": bob.user["phone"]}):
        r = send(alice, {"from_wallet_id": wa, "to": to, "amount": 100, "currency": "USD"})
        assert r.status_code == 404 and code(r) == "recipient_not_found", to
    verify_contact(stack, bob, "email")
    r = send(alice, {"from_wallet_id": wa, "to": {"email": bob.email}, "amount": 100, "currency": "USD"})
    assert r.status_code == 201 and r.json()["status"] == "posted"
    r = send(alice, {"from_wallet_id": wa, "to": {"phone": bob.user["phone"]}, "amount": 100, "currency": "USD"})
    assert r.status_code == 404  # the phone is still unverified


def _fund(container, wallet_id: str, amount: int) -> None:
    from chalicelib.domain.ids import new_id
    from chalicelib.domain.money import Money

    assert container.ledger.credit_from_system("stripe_clearing", wallet_id, Money(amount, "USD"), new_id("tp"))


def test_forgot_and_reset_a_password(api, stack, new_user):
    u = new_user(verified=False)
    ghost = uniq_email("ghost")
    for email in (u.email, ghost):
        r = api.request("POST", "/auth/password/forgot", {"email": email})
        assert r.status_code == 202 and r.json() == {}
    assert messages_to(stack["AWS_ENDPOINT"], ghost) == []
    real = last_code(stack["AWS_ENDPOINT"], u.email)
    for email, attempt in ((u.email, other(real)), (ghost, real)):
        r = api.request("POST", "/auth/password/reset", {"email": email, "code": attempt, "new_password": NEW_PASSWORD})
        assert r.status_code == 422 and code(r) == "invalid_code"
    r = api.request("POST", "/auth/password/reset", {"email": u.email, "code": real, "new_password": "short"})
    assert r.status_code == 400 and code(r) == "invalid_request"
    r = api.request("POST", "/auth/password/reset", {"email": u.email, "code": real, "new_password": NEW_PASSWORD})
    assert r.status_code == 204
    assert u.api.request("GET", "/me").status_code == 401  # every session ended
    r = api.request("POST", "/auth/refresh", {"refresh_token": u.tokens["refresh_token"]})
    assert r.status_code == 401
    assert api.request("POST", "/auth/login", {"email": u.email, "password": PASSWORD}).status_code == 401
    t = api.request("POST", "/auth/login", {"email": u.email, "password": NEW_PASSWORD})
    assert t.status_code == 200
    me = Api(api.base, t.json()["access_token"]).request("GET", "/me").json()
    assert me["email_verified"] is True  # the reset proved the e-mail
    r = api.request("POST", "/auth/password/reset", {"email": u.email, "code": real, "new_password": NEW_PASSWORD})
    assert r.status_code == 422 and code(r) == "code_expired"  # single use


def test_a_reset_with_two_factor_needs_the_otp(api, stack, new_user):
    import pyotp

    u = new_user()
    secret = u.api.request("POST", "/me/mfa/totp", {"password": PASSWORD}).json()["secret"]
    assert u.api.request("POST", "/me/mfa/totp/confirm", {"otp": pyotp.TOTP(secret).now()}).status_code == 200
    assert api.request("POST", "/auth/password/forgot", {"email": u.email}).status_code == 202
    real = last_code(stack["AWS_ENDPOINT"], u.email)
    body = {"email": u.email, "code": real, "new_password": NEW_PASSWORD}
    r = api.request("POST", "/auth/password/reset", body)
    assert r.status_code == 403 and code(r) == "mfa_required"
    r = api.request("POST", "/auth/password/reset", dict(body, otp="000000"))
    assert r.status_code == 403 and code(r) == "mfa_invalid"
    time.sleep(max(0.0, 30 - time.time() % 30 + 0.5))  # a fresh TOTP step (the enrolment used this one)
    r = api.request("POST", "/auth/password/reset", dict(body, otp=pyotp.TOTP(secret).now()))
    assert r.status_code == 204, r.text


def test_pay_a_friend_who_is_not_here_yet(api, stack, new_user, stack_container):
    from tests.e2e.test_ledger import default_wallet, send

    alice = new_user(first_name="Alice")
    wa = default_wallet(alice)["wallet_id"]
    _fund(stack_container, wa, 5000)
    friend = f"friend.{uuid.uuid4().hex[:10]}@example.com"
    body = {"from_wallet_id": wa, "to": {"email": friend}, "amount": 1250, "currency": "USD", "memo": "welcome"}
    r = send(alice, body)
    assert r.status_code == 404 and code(r) == "recipient_not_found"
    r = send(alice, dict(body, to={"email": friend, "invite": True}), key="invite-1")
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["status"] == "unclaimed" and t["to_wallet_id"] is None and t["claim_expires_at"]
    assert default_wallet(alice)["available"] == 5000 - 1250 and default_wallet(alice)["held"] == 1250
    again = send(alice, dict(body, to={"email": friend, "invite": True}), key="invite-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    [invitation] = messages_to(stack["AWS_ENDPOINT"], friend)
    assert "Alice" in invitation and "12.50 USD" in invitation and "welcome" not in invitation

    # The friend registers and verifies the e-mail: the money lands in their wallet.
    r = api.request("POST", "/auth/register", {"email": friend, "password": PASSWORD})
    assert r.status_code == 201
    tokens = api.request("POST", "/auth/login", {"email": friend, "password": PASSWORD}).json()
    fr = User(api, friend, tokens, r.json()["user"])
    assert default_wallet(fr)["balance"] == 0
    verify_contact(stack, fr, "email")
    assert default_wallet(fr)["balance"] == 1250
    seen = fr.api.request("GET", f"/transfers/{t['transfer_id']}").json()
    assert seen["status"] == "posted" and seen["to_wallet_id"] == default_wallet(fr)["wallet_id"]
    assert seen["memo"] == "welcome"
    assert default_wallet(alice)["balance"] == 5000 - 1250 and default_wallet(alice)["held"] == 0
    [entry] = fr.api.request("GET", f"/wallets/{default_wallet(fr)['wallet_id']}/transactions").json()["items"]
    assert entry["direction"] == "credit" and entry["amount"] == 1250 and entry["status"] == "posted"
    assert entry["memo"] == "welcome"
    r = alice.api.request("POST", f"/transfers/{t['transfer_id']}/cancel")
    assert r.status_code == 409 and code(r) == "transfer_not_cancelable"


def test_cancel_and_expiry_give_the_money_back(api, stack, new_user, stack_container):
    from tests.e2e.test_ledger import default_wallet, send

    alice, stranger = new_user(), new_user()
    wa = default_wallet(alice)["wallet_id"]
    _fund(stack_container, wa, 1000)
    phone = uniq_phone()
    r = send(alice, {"from_wallet_id": wa, "to": {"phone": phone, "invite": True}, "amount": 300, "currency": "USD"})
    assert r.status_code == 201 and r.json()["status"] == "unclaimed"
    tid = r.json()["transfer_id"]
    assert len(messages_to(stack["AWS_ENDPOINT"], phone)) == 1  # the SMS invitation
    r = stranger.api.request("POST", f"/transfers/{tid}/cancel")
    assert r.status_code == 404 and code(r) == "not_found"
    r = alice.api.request("POST", f"/transfers/{tid}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    assert default_wallet(alice)["available"] == 1000
    r = alice.api.request("POST", f"/transfers/{tid}/cancel")
    assert r.status_code == 409 and code(r) == "transfer_not_cancelable"

    # Past the expiry the scheduled sweep returns it (run here with its clock moved on).
    r = send(alice, {"from_wallet_id": wa, "to": {"email": uniq_email("late"), "invite": True}, "amount": 200,
                     "currency": "USD"})
    late = r.json()["transfer_id"]
    from chalicelib.services.invitations import Invitations

    c = stack_container
    later = time.time() + c.settings.invite_ttl_seconds + 1
    sweep = Invitations(ledger=c.ledger, store=c.ledger_store, users=c.users, messenger=None,  # type: ignore[arg-type]
                        cipher=c.cipher, now=lambda: later).sweep()
    assert sweep["expired"] >= 1 and sweep["failed"] == 0
    assert alice.api.request("GET", f"/transfers/{late}").json()["status"] == "expired"
    assert default_wallet(alice)["available"] == 1000 and default_wallet(alice)["held"] == 0
