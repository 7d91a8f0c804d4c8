"""Issue 26 over HTTP against the local stack: pre-account hijacking (attack 1), a stolen access
token turning 2FA on (attack 2), step-up on the routes that give a lasting hold on an account,
the verification gate and the closing of accounts nobody verified (docs/account-safety.md)."""
from __future__ import annotations

import time
import uuid

import pyotp

from tests.e2e.conftest import PASSWORD, Api, uniq_email, uniq_phone, verify_contact, wait_for
from tests.e2e.test_identity import _id_token
from tests.e2e.test_ledger import code


def test_attack_1_the_victims_provider_sign_in_never_lands_in_the_attackers_account(api, stack, new_user):
    victim_email = uniq_email("victim")
    # The attacker registers the victim's e-mail (no proof needed) with their own phone, which
    # they verify, then prepares the account: 2FA (their code), a payout account (their bank).
    attacker = new_user(verified=False, email=victim_email, phone=uniq_phone())
    attacker.user = verify_contact(stack, attacker, "phone")
    secret = attacker.api.request("POST", "/me/mfa/totp", {"password": PASSWORD}).json()["secret"]
    totp = pyotp.TOTP(secret)
    r = attacker.api.request("POST", "/me/mfa/totp/confirm", {"otp": totp.at(time.time() - 30)})
    assert r.status_code == 200, r.text
    r = attacker.api.request("POST", "/payout-account", {"otp": totp.now()})
    assert r.status_code == 201, r.text

    # The victim signs in with Google, which proves the address.
    r = api.request("POST", "/auth/social/google", {"id_token": _id_token(
        stack, "google", uuid.uuid4().hex, email=victim_email.lower(), email_verified=True)})
    assert r.status_code == 200 and r.json()["created"] is True, r.text
    victim = Api(api.base, r.json()["access_token"])
    me = victim.request("GET", "/me").json()
    assert me["user_id"] != attacker.user["user_id"]
    assert me["email_verified"] is True and me["mfa_enabled"] is False and me["phone"] is None
    assert victim.request("GET", "/payout-account").status_code == 404  # not the attacker's bank

    # The attacker's account is closed: no route signs it in again.
    assert attacker.api.request("GET", "/me").status_code == 401
    refresh = api.request("POST", "/auth/refresh", {"refresh_token": attacker.tokens["refresh_token"]})
    assert refresh.status_code == 401
    login = api.request("POST", "/auth/login", {"phone": attacker.user["phone"], "password": PASSWORD})
    assert (login.status_code, code(login)) == (401, "invalid_credentials")
    login = api.request("POST", "/auth/login", {"email": victim_email, "password": PASSWORD})
    assert login.status_code == 401


def test_attack_2_a_stolen_access_token_alone_cannot_turn_2fa_on_or_take_the_money_out(new_user):
    u = new_user()
    thief = Api(u.api.base, u.tokens["access_token"])
    for path, body in (("/me/mfa/totp", {}), ("/payout-account", {}),
                       ("/offline/devices", {"public_key": "A" * 43, "name": "thief"}),
                       ("/me/mfa/totp", {"otp": "123456"})):  # an otp is no proof while 2FA is off
        r = thief.request("POST", path, body)
        assert (r.status_code, code(r)) == (403, "reauth_required"), (path, r.text)
    r = thief.request("PATCH", "/me", {"phone": uniq_phone()})
    assert (r.status_code, code(r)) == (403, "reauth_required")
    r = thief.request("POST", "/me/mfa/totp", {"password": "the thief's guess 1"})
    assert (r.status_code, code(r)) == (403, "reauth_invalid")
    assert thief.request("GET", "/me").json()["mfa_enabled"] is False
    r = thief.request("POST", "/me/mfa/totp", {"password": PASSWORD})  # the owner, who knows it
    assert r.status_code == 200 and r.json()["otpauth_uri"].startswith("otpauth://totp/")


def test_with_2fa_on_step_up_needs_a_code_not_the_password(new_user):
    u = new_user()
    totp = pyotp.TOTP(u.api.request("POST", "/me/mfa/totp", {"password": PASSWORD}).json()["secret"])
    assert u.api.request("POST", "/me/mfa/totp/confirm", {"otp": totp.at(time.time() - 30)}).status_code == 200
    phone = uniq_phone()
    r = u.api.request("PATCH", "/me", {"phone": phone, "password": PASSWORD})
    assert (r.status_code, code(r)) == (403, "reauth_required")
    r = u.api.request("PATCH", "/me", {"phone": phone, "otp": totp.now()})
    assert r.status_code == 200 and r.json()["phone"] == phone and r.json()["phone_verified"] is False


def test_an_unverified_account_may_only_read_verify_and_manage_its_logins(stack, new_user):
    u = new_user(verified=False)
    r = u.api.request("POST", "/wallets", {"currency": "EUR"})
    assert (r.status_code, code(r)) == (403, "verification_required")
    r = u.api.request("POST", "/payment-requests", {"payer": {"email": uniq_email()}, "amount": 100,
                                                    "currency": "USD"})
    assert (r.status_code, code(r)) == (403, "verification_required")
    wallet = u.api.request("GET", "/wallets").json()["items"][0]["wallet_id"]
    r = u.api.request("POST", "/transfers", {"from_wallet_id": wallet, "to": {"email": uniq_email()}, "amount": 1,
                                             "currency": "USD"}, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert (r.status_code, code(r)) == (403, "verification_required")
    assert u.api.request("GET", "/me/sessions").status_code == 200
    assert u.api.request("POST", "/me/sessions/revoke-others").status_code == 204
    assert u.api.request("PATCH", "/me", {"first_name": "Ada"}).status_code == 200
    verify_contact(stack, u, "email")
    # The same token (issued unverified) goes through now: the gate reads the account again.
    assert u.api.request("POST", "/wallets", {"currency": "EUR"}).status_code == 201


def test_an_account_unverified_for_7_days_is_closed_by_the_schedule(api, new_user, stack_container):
    from chalicelib.adapters.dynamodb.models import UserRecord

    u = new_user(verified=False)
    # Registered 8 days ago, as far as the sweep can tell (the stack's schedule runs every few seconds).
    eight_days_ago = int(time.time()) - 8 * 86400
    UserRecord(user_id=u.user["user_id"]).update(actions=[UserRecord.unverified_since.set(eight_days_ago)])
    assert wait_for(lambda: u.api.request("GET", "/me").status_code == 401, timeout=60)
    assert stack_container.users.get(u.user["user_id"]).status == "closed"
    login = api.request("POST", "/auth/login", {"email": u.email, "password": PASSWORD})
    assert login.status_code == 401
    # The address is released: its owner can register it.
    r = api.request("POST", "/auth/register", {"email": u.email, "password": PASSWORD})
    assert r.status_code == 201, r.text
