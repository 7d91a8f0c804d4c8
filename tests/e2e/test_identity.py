"""The identity routes (docs/api.md) over HTTP, attacks included."""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.conftest import PASSWORD, Api, uniq_email, uniq_phone
from tests.token_attacks import forgeries


def code(r) -> str | None:
    try:
        return r.json()["error"]["code"]
    except Exception:  # noqa: BLE001
        return None


def test_register_shapes_and_normalization(api):
    email, phone = uniq_email(), uniq_phone()
    r = api.request("POST", "/auth/register", {"email": email, "password": PASSWORD,
                                               "phone": phone.replace("+65", "+65 "),
                                               "first_name": "Ada", "last_name": "Lovelace"})
    assert r.status_code == 201, r.text
    user = r.json()["user"]
    assert set(user) == {"user_id", "email", "phone", "first_name", "last_name", "mfa_enabled", "email_verified",
                         "phone_verified", "created_at"}
    assert user["email_verified"] is False and user["phone_verified"] is False
    local, domain = email.split("@")
    assert user["email"] == f"{local}@{domain.lower()}" and user["phone"] == phone
    assert user["mfa_enabled"] is False and user["created_at"].endswith("Z")
    assert r.headers["Cache-Control"] == "no-store"
    dup = api.request("POST", "/auth/register", {"email": email.lower(), "password": PASSWORD})
    assert dup.status_code == 409 and code(dup) == "email_taken"
    # Nobody has verified the phone yet: another account may enter it (the first to verify owns it).
    same_phone = api.request("POST", "/auth/register", {"email": uniq_email(), "password": PASSWORD, "phone": phone})
    assert same_phone.status_code == 201, same_phone.text


@pytest.mark.parametrize("body", [
    {"email": "not-an-email", "password": PASSWORD},
    {"email": "x@example.com", "password": "short"},
    {"email": "x@example.com", "password": "password12345"},
    {"email": "x@example.com", "password": "y" * 129},
    {"email": "x@example.com", "password": PASSWORD, "phone": "12345"},
    {"password": PASSWORD},
    {"email": ["x@example.com"], "password": PASSWORD},
])
def test_register_rejects_bad_input(api, body):
    r = api.request("POST", "/auth/register", body)
    assert r.status_code == 400 and code(r) == "invalid_request" and r.json()["error"]["details"]


def test_register_bad_json(api):
    r = api.request("POST", "/auth/register", data="{not json")
    assert r.status_code == 400 and code(r) == "invalid_request"


def test_ten_simultaneous_registrations_one_201_nine_409(api):
    email = uniq_email("race")
    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(lambda _: Api(api.base).request(
            "POST", "/auth/register", {"email": email, "password": PASSWORD}).status_code, range(10)))
    assert sorted(statuses) == [201] + [409] * 9


def test_login_refresh_logout(api, new_user):
    u = new_user()
    me = u.api.request("GET", "/me")
    assert me.status_code == 200 and me.json()["user_id"] == u.user["user_id"]
    t = u.tokens
    assert t["token_type"] == "Bearer" and 0 < t["expires_in"] <= 900
    header = jwt.get_unverified_header(t["access_token"])
    assert header["alg"] == "EdDSA" and header["kid"]
    kids = {k["kid"] for k in api.request("GET", "/.well-known/jwks.json").json()["keys"]}
    assert header["kid"] in kids

    r1 = api.request("POST", "/auth/refresh", {"refresh_token": t["refresh_token"]})
    assert r1.status_code == 200 and r1.json()["refresh_token"] != t["refresh_token"]
    # The same token again at once (a client retrying a lost answer): a new pair, no revocation.
    retry = api.request("POST", "/auth/refresh", {"refresh_token": t["refresh_token"]})
    assert retry.status_code == 200
    fresh = api.request("POST", "/auth/refresh", {"refresh_token": retry.json()["refresh_token"]}).json()
    # Reuse of a token older than the last one: 401, and every token of that login dies.
    reuse = api.request("POST", "/auth/refresh", {"refresh_token": t["refresh_token"]})
    assert reuse.status_code == 401 and code(reuse) == "unauthorized"
    assert api.request("POST", "/auth/refresh", {"refresh_token": fresh["refresh_token"]}).status_code == 401
    assert Api(api.base, fresh["access_token"]).request("GET", "/me").status_code == 401

    again = api.request("POST", "/auth/login", {"email": u.email, "password": PASSWORD}).json()
    out = api.request("POST", "/auth/logout", {"refresh_token": again["refresh_token"]})
    assert out.status_code == 204 and not out.content
    assert api.request("POST", "/auth/refresh", {"refresh_token": again["refresh_token"]}).status_code == 401
    assert Api(api.base, again["access_token"]).request("GET", "/me").status_code == 401
    # POST /transfers reads the session in its own first read: a logged-out token gets 401
    # there too, whatever else is wrong with the request (no key, a malformed body, a wallet).
    ended = Api(api.base, again["access_token"])
    for headers, body in (({}, {"from_wallet_id": "wal_x", "to": {"email": "a@example.com"}, "amount": 1,
                                 "currency": "USD"}),
                          ({"Idempotency-Key": "k1"}, {"amount": "nope"}),
                          ({"Idempotency-Key": "k2"}, {"from_wallet_id": "wal_x", "to": {"wallet_id": "wal_y"},
                                                       "amount": 1, "currency": "USD"})):
        r = ended.request("POST", "/transfers", body, headers=headers)
        assert r.status_code == 401 and code(r) == "unauthorized", r.text


def test_login_failures_look_alike_and_lock_out(api, new_user):
    u = new_user(phone=uniq_phone())
    by_phone = api.request("POST", "/auth/login", {"phone": u.user["phone"], "password": PASSWORD})
    assert by_phone.status_code == 200
    unknown = api.request("POST", "/auth/login", {"email": uniq_email(), "password": PASSWORD})
    wrong = api.request("POST", "/auth/login", {"email": u.email, "password": "not the password!"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json() and code(wrong) == "invalid_credentials"
    # Clients without a device token for the account are counted together: 10 in 15 minutes.
    statuses = [api.request("POST", "/auth/login", {"email": u.email, "password": "wrong again!!"}).status_code
                for _ in range(10)]
    assert statuses[:9] == [401] * 9 and statuses[-1] == 429
    locked = api.request("POST", "/auth/login", {"email": u.email, "password": PASSWORD})
    assert locked.status_code == 429 and code(locked) == "too_many_requests"
    assert int(locked.headers["Retry-After"]) > 0
    # Attack 3a of issue 26: the owner's own browser (its device token) is never locked out by them.
    mine = api.request("POST", "/auth/login", {"email": u.email, "password": PASSWORD,
                                               "device_token": u.tokens["device_token"]})
    assert mine.status_code == 200, mine.text


def test_forged_tokens_are_all_401(api, new_user):
    u = new_user()
    jwks = api.request("GET", "/.well-known/jwks.json").json()
    for name, forged in forgeries(u.tokens["access_token"], jwks).items():
        r = Api(api.base, forged).request("GET", "/me")
        assert (r.status_code, code(r)) == (401, "unauthorized"), name


def test_totp_enroll_confirm_replay_recovery_and_disable(api, new_user):
    u = new_user()
    assert u.api.request("DELETE", "/me/mfa/totp", {"otp": "123456"}).json()["error"]["code"] == "mfa_not_enrolled"
    # Step-up (attack 2 of issue 26): the access token alone cannot turn 2FA on.
    refused = u.api.request("POST", "/me/mfa/totp", {})
    assert refused.status_code == 403 and code(refused) == "reauth_required"
    enroll = u.api.request("POST", "/me/mfa/totp", {"password": PASSWORD})
    assert enroll.status_code == 200 and enroll.json()["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(enroll.json()["secret"])
    bad = u.api.request("POST", "/me/mfa/totp/confirm", {"otp": "000000" if totp.now() != "000000" else "111111"})
    assert bad.status_code == 403 and code(bad) == "mfa_invalid"
    used = totp.now()
    ok = u.api.request("POST", "/me/mfa/totp/confirm", {"otp": used})
    assert ok.status_code == 200 and ok.json()["mfa_enabled"] is True
    codes = ok.json()["recovery_codes"]
    assert len(codes) == 10
    assert u.api.request("GET", "/me").json()["mfa_enabled"] is True
    again = u.api.request("POST", "/me/mfa/totp")
    assert again.status_code == 409

    missing = u.api.request("DELETE", "/me/mfa/totp", {})
    assert missing.status_code == 403 and code(missing) == "mfa_required"
    replay = u.api.request("DELETE", "/me/mfa/totp", {"otp": used})
    assert replay.status_code == 403 and code(replay) == "mfa_invalid"
    # Password change is sensitive with 2FA on.
    body = {"current_password": PASSWORD, "new_password": "another long passphrase 7"}
    assert code(u.api.request("POST", "/me/password", body)) == "mfa_required"
    assert u.api.request("POST", "/me/password", dict(body, otp=codes[0])).status_code == 204
    # The password change revoked every login, including this access token.
    assert u.api.request("GET", "/me").status_code == 401
    t = api.request("POST", "/auth/login", {"email": u.email, "password": "another long passphrase 7"}).json()
    used_code = Api(api.base, t["access_token"]).request("DELETE", "/me/mfa/totp", {"otp": codes[0]})
    assert code(used_code) == "mfa_invalid"  # recovery codes are single use
    off = Api(api.base, t["access_token"]).request("DELETE", "/me/mfa/totp", {"otp": codes[1]})
    assert off.status_code == 204
    assert Api(api.base, t["access_token"]).request("GET", "/me").json()["mfa_enabled"] is False


def test_password_change_errors(api, new_user):
    u = new_user()
    wrong = u.api.request("POST", "/me/password", {"current_password": "nope nope nope", "new_password": "x" * 20})
    assert wrong.status_code == 401 and code(wrong) == "invalid_credentials"
    weak = u.api.request("POST", "/me/password", {"current_password": PASSWORD, "new_password": "password123"})
    assert weak.status_code == 400 and weak.json()["error"]["details"][0]["field"] == "new_password"
    assert u.api.request("GET", "/me").status_code == 200  # nothing changed


def _id_token(stack, provider: str, sub: str, key_pem: bytes | None = None, kid: str | None = None, **over) -> str:
    now = int(time.time())
    claims = {"iss": stack["GOOGLE_ISSUER" if provider == "google" else "FACEBOOK_ISSUER"],
              "aud": stack["OIDC_AUDIENCE"], "sub": sub, "iat": now, "exp": now + 300, **over}
    claims = {k: v for k, v in claims.items() if v is not None}
    key = key_pem or Path(stack["OIDC_PRIVATE_KEY_PATH"]).read_bytes()
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid or stack["OIDC_KEY_ID"]})


@pytest.mark.parametrize("provider", ["google", "facebook"])
def test_social_sign_in_creates_then_signs_in(api, stack, provider):
    sub = uuid.uuid4().hex
    email = uniq_email("social")
    first = api.request("POST", f"/auth/social/{provider}",
                        {"id_token": _id_token(stack, provider, sub, email=email, email_verified=True)})
    assert first.status_code == 200 and first.json()["created"] is True
    me = Api(api.base, first.json()["access_token"]).request("GET", "/me").json()
    assert me["email"].lower() == email.lower()
    second = api.request("POST", f"/auth/social/{provider}", {"id_token": _id_token(stack, provider, sub)})
    assert second.status_code == 200 and second.json()["created"] is False
    assert Api(api.base, second.json()["access_token"]).request("GET", "/me").json()["user_id"] == me["user_id"]


def test_social_links_a_verified_email_to_the_existing_account(api, stack, new_user):
    u = new_user()
    r = api.request("POST", "/auth/social/google", {"id_token": _id_token(
        stack, "google", uuid.uuid4().hex, email=u.email.lower(), email_verified=True)})
    assert r.status_code == 200 and r.json()["created"] is False
    assert Api(api.base, r.json()["access_token"]).request("GET", "/me").json()["user_id"] == u.user["user_id"]


def test_bad_id_tokens_are_401(api, stack):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    sub = uuid.uuid4().hex
    bad = {
        "wrong_audience": _id_token(stack, "google", sub, aud="someone-else"),
        "wrong_issuer": _id_token(stack, "google", sub, iss="https://evil.example"),
        "other_key": _id_token(stack, "google", sub, key_pem=other),
        "unknown_kid": _id_token(stack, "google", sub, kid="nope"),
        "expired": _id_token(stack, "google", sub, iat=int(time.time()) - 900, exp=int(time.time()) - 600),
        "facebook_token_at_google": _id_token(stack, "facebook", sub),
        "garbage": "not-a-token",
    }
    for name, token in bad.items():
        r = api.request("POST", "/auth/social/google", {"id_token": token})
        assert (r.status_code, code(r)) == (401, "unauthorized"), name
    assert api.request("POST", "/auth/social/myspace", {"id_token": "x"}).status_code == 404
