"""Issue 26 on fakes: step-up, the verification gate, closing accounts nobody proved owning.

The regression tests of attack 1 (pre-account hijacking) and attack 2 (a stolen access token
turning 2FA on) fail on the code before issue 26; docs/account-safety.md says what each rule stops.
"""
from __future__ import annotations

import pyotp
import pytest

from chalicelib.domain.commands import SocialSignIn
from chalicelib.domain.contact import email_lookup_key, identity_key, phone_lookup_key
from chalicelib.domain.errors import (
    CodeExpired,
    InvalidCredentials,
    MfaRequired,
    ReauthInvalid,
    ReauthRequired,
    TooManyRequests,
    Unauthorized,
)
from chalicelib.domain.principal import Principal
from chalicelib.services.closing import UNVERIFIED_DAYS, AccountClosing
from chalicelib.services.lockout import Lockout
from chalicelib.services.sessions import SESSION_PASSWORD_FAILURES
from chalicelib.services.stepup import StepUp
from tests.unit.identity_env import PASSWORD, Env, make_env, verify_email

DAY = 86400
PHONE = "+6591234567"


def stepup(env: Env) -> StepUp:
    i = env.identity
    return StepUp(users=env.users, hasher=i.hasher, mfa=env.mfa, passwords=i.session_passwords)


def principal_of(env: Env, access_token: str) -> Principal:
    return env.identity.verify_access(access_token)


def login_of(env: Env, refresh_token: str) -> Principal:
    """The principal of a pair issued after the fake clock moved on (its access token would not
    verify against the real clock): read from its login."""
    session = env.sessions.get(refresh_token.split(".")[1])
    assert session is not None
    return Principal(user_id=session.user_id, session_id=session.session_id)


def signed_in(env: Env, email: str = "ada@example.com") -> tuple[str, Principal]:
    user = env.identity.register(email, PASSWORD)
    verify_email(env, user.user_id, email)
    return user.user_id, principal_of(env, env.identity.login(PASSWORD, email=email).access_token)


def turn_2fa_on(env: Env, user_id: str) -> pyotp.TOTP:
    totp = pyotp.TOTP(env.mfa.enroll(user_id).secret)
    env.mfa.confirm(user_id, totp.at(env.clock()))
    env.clock.advance(30)
    return totp


# -- step-up ------------------------------------------------------------------------------------
def test_step_up_asks_the_password_when_2fa_is_off():
    env = make_env()
    _, me = signed_in(env)
    with pytest.raises(ReauthRequired):
        stepup(env).require(me, None, None)
    with pytest.raises(ReauthRequired):
        stepup(env).require(me, "", "123456")  # an otp is no proof while 2FA is off
    with pytest.raises(ReauthInvalid):
        stepup(env).require(me, "not the password 42", None)
    assert stepup(env).require(me, PASSWORD, None).user_id == me.user_id


def test_with_2fa_on_a_password_alone_is_not_enough():
    env = make_env()
    user_id, me = signed_in(env)
    totp = turn_2fa_on(env, user_id)
    with pytest.raises(ReauthRequired):
        stepup(env).require(me, PASSWORD, None)
    with pytest.raises(ReauthInvalid):
        stepup(env).require(me, PASSWORD, "000000" if totp.now() != "000000" else "111111")
    code = totp.at(env.clock())
    stepup(env).require(me, None, code)
    with pytest.raises(ReauthInvalid):  # each code works once
        stepup(env).require(me, None, code)


def test_five_wrong_step_up_passwords_end_the_session():
    env = make_env()
    user = env.identity.register("ada@example.com", PASSWORD)
    verify_email(env, user.user_id, "ada@example.com")
    login = env.identity.login(PASSWORD, email="ada@example.com")
    me = principal_of(env, login.access_token)
    for _ in range(SESSION_PASSWORD_FAILURES - 1):
        with pytest.raises(ReauthInvalid):
            stepup(env).require(me, "a wrong guess 1234", None)
    with pytest.raises(Unauthorized):  # the fifth: no guesses left, and no session either
        stepup(env).require(me, "a wrong guess 1234", None)
    with pytest.raises(Unauthorized):
        env.identity.verify_access(login.access_token)
    with pytest.raises(Unauthorized):
        env.identity.refresh(login.refresh_token)
    with pytest.raises(Unauthorized):  # a burst past the limit is refused unchecked, even the right one
        stepup(env).require(me, PASSWORD, None)


def test_a_right_step_up_password_clears_the_sessions_count():
    env = make_env()
    _, me = signed_in(env)
    for _ in range(2):
        for _ in range(SESSION_PASSWORD_FAILURES - 1):
            with pytest.raises(ReauthInvalid):
                stepup(env).require(me, "a wrong guess 1234", None)
        assert stepup(env).require(me, PASSWORD, None)


def test_a_session_thief_cannot_lock_the_owner_out_of_logging_in():
    # Review 26, F4: the stolen session carries the owner's device key; its wrong step-up and
    # password-change guesses never count on that device's logins.
    env = make_env()
    user = env.identity.register("ada@example.com", PASSWORD)
    verify_email(env, user.user_id, "ada@example.com")
    owners = env.identity.login(PASSWORD, email="ada@example.com").device_token
    stolen = env.identity.login(PASSWORD, email="ada@example.com", device_token=owners)
    me = principal_of(env, stolen.access_token)
    with pytest.raises(Unauthorized):
        for _ in range(20):
            with pytest.raises(ReauthInvalid):
                stepup(env).require(me, "thief guess 123456", None)
    for _ in range(11):  # and the strangers' pool, with the e-mail GET /me gave the thief
        with pytest.raises((InvalidCredentials, TooManyRequests)):
            env.identity.login("thief guess 123456", email="ada@example.com")
    assert env.identity.login(PASSWORD, email="ada@example.com", device_token=owners)


def test_strangers_failed_logins_never_block_the_owners_step_up():
    env = make_env()
    _, me = signed_in(env)
    for _ in range(30):
        with pytest.raises((InvalidCredentials, TooManyRequests)):
            env.identity.login("a stranger's guess 1", email="ada@example.com")
    assert stepup(env).require(me, PASSWORD, None)


def test_an_account_without_a_password_must_set_one_before_step_up():
    # Review 26, F5: a fresh provider sign-in is no proof (its access token is what a thief
    # holds); the reset gives the account a password, which step-up then asks.
    env = make_env()
    pair, _ = env.identity.social_sign_in(SocialSignIn.of_claims(
        "google", {"sub": "g-1", "email": "sam@example.com", "email_verified": True}))
    me = principal_of(env, pair.access_token)
    for password in (None, "any password at all"):
        with pytest.raises(ReauthRequired) as refused:
            stepup(env).require(me, password, None)
        assert "set one first" in refused.value.message
    env.recovery.forgot("sam@example.com")
    env.recovery.reset("sam@example.com", env.outbox.last_code("sam@example.com"), PASSWORD)
    again = env.identity.login(PASSWORD, email="sam@example.com")
    assert stepup(env).require(login_of(env, again.refresh_token), PASSWORD, None)


# -- attack 2 over HTTP: a stolen access token cannot enroll TOTP ---------------------------------
@pytest.fixture
def app_env(env):
    """The app on fakes with the contact service too (PATCH /me)."""
    from chalicelib.container import Container, set_container
    from chalicelib.services.contacts import ContactVerification

    c = env.contacts
    contacts = ContactVerification(users=c.users, codes=c.codes, messenger=c.messenger, cipher=c.cipher,
                                   blind_index=c.blind_index, send_limit=c.send_limit, deliver=c.deliver,
                                   phone_changes=Lockout(env.counters, 5, DAY), now=env.clock)
    set_container(Container(identity=env.identity, mfa=env.mfa, jwt_keys=env.jwt, access_tokens=env.identity,
                            contacts=contacts))
    return env


def test_attack_2_a_stolen_access_token_alone_cannot_turn_2fa_on(app_env, http):
    env = app_env
    user = env.identity.register("ada@example.com", PASSWORD)
    verify_email(env, user.user_id, "ada@example.com")
    stolen = env.identity.login(PASSWORD, email="ada@example.com").access_token
    status, body, _ = http.request("POST", "/me/mfa/totp", {}, token=stolen)
    assert (status, body["error"]["code"]) == (403, "reauth_required")
    status, _, _ = http.request("POST", "/me/mfa/totp", token=stolen)  # no body at all: the same
    assert status == 403
    status, body, _ = http.request("POST", "/me/mfa/totp", {"password": "a guess of the thief"}, token=stolen)
    assert (status, body["error"]["code"]) == (403, "reauth_invalid")
    assert env.users.get(user.user_id).totp_pending_ct is None  # nothing started
    status, body, _ = http.request("POST", "/me/mfa/totp", {"password": PASSWORD}, token=stolen)
    assert status == 200 and body["otpauth_uri"].startswith("otpauth://totp/")
    env.mfa.confirm(user.user_id, pyotp.TOTP(body["secret"]).at(env.clock()))
    status, body, _ = http.request("POST", "/me/mfa/totp", {}, token=stolen)
    assert (status, body["error"]["code"]) == (409, "mfa_already_enabled")  # 409 before any proof


def test_a_phone_change_without_proof_learns_nothing_and_uses_up_nothing(app_env, http):
    env = app_env
    owner = env.identity.register("owner@example.com", PASSWORD, phone=PHONE)
    verify_email(env, owner.user_id, "owner@example.com")
    from tests.unit.test_identity_rules import verify

    verify(env, owner.user_id, PHONE)
    eve = env.identity.register("eve@example.com", PASSWORD)
    verify_email(env, eve.user_id, "eve@example.com")
    token = env.identity.login(PASSWORD, email="eve@example.com").access_token
    for _ in range(8):  # a taken number and a free one answer alike, and no change is used up
        for phone in (PHONE, "+6598887777"):
            status, body, _ = http.request("PATCH", "/me", {"phone": phone}, token=token)
            assert (status, body["error"]["code"]) == (403, "reauth_required")
    status, body, _ = http.request("PATCH", "/me", {"first_name": "Eve"}, token=token)  # names need none
    assert status == 200 and body["first_name"] == "Eve"
    status, body, _ = http.request("PATCH", "/me", {"phone": PHONE, "password": PASSWORD}, token=token)
    assert (status, body["error"]["code"]) == (409, "phone_taken")
    status, body, _ = http.request("PATCH", "/me", {"phone": "+6598887777", "password": PASSWORD}, token=token)
    assert status == 200 and body["phone"] == "+6598887777"
    status, _, _ = http.request("PATCH", "/me", {"phone": "+6598887777"}, token=token)  # the same: no change
    assert status == 200


# -- the verification gate ----------------------------------------------------------------------
def test_an_unverified_account_may_read_verify_and_manage_itself_only(app_env, http):
    env = app_env
    user = env.identity.register("ada@example.com", PASSWORD)
    token = env.identity.login(PASSWORD, email="ada@example.com").access_token
    status, body, _ = http.request("POST", "/me/mfa/totp", {"password": PASSWORD}, token=token)
    assert (status, body["error"]["code"]) == (403, "verification_required")
    assert http.request("POST", "/wallets", {"currency": "EUR"}, token=token)[0] == 403
    assert http.request("GET", "/me", token=token)[0] == 200
    assert http.request("PATCH", "/me", {"first_name": "Ada"}, token=token)[0] == 200
    assert http.request("POST", "/me/verify", {"channel": "email"}, token=token)[0] == 202
    status, body, _ = http.request("POST", "/me/verify/confirm", {
        "channel": "email", "code": env.outbox.last_code("ada@example.com")}, token=token)
    assert status == 200 and body["email_verified"]
    # The token says "unverified" (`cv`), the account is verified now: one read lets it through.
    status, body, _ = http.request("POST", "/me/mfa/totp", {"password": PASSWORD}, token=token)
    assert status == 200, body
    assert env.users.get(user.user_id).unverified_since is None


def test_the_token_says_whether_the_account_was_verified_so_verified_ones_cost_no_read():
    env = make_env()
    user = env.identity.register("ada@example.com", PASSWORD)
    pair = env.identity.login(PASSWORD, email="ada@example.com")
    assert not principal_of(env, pair.access_token).verified
    verify_email(env, user.user_id, "ada@example.com")
    assert principal_of(env, env.identity.refresh(pair.refresh_token).access_token).verified
    assert principal_of(env, env.identity.login(PASSWORD, email="ada@example.com").access_token).verified
    social, _ = env.identity.social_sign_in(SocialSignIn.of_claims(
        "google", {"sub": "g-1", "email": "sam@example.com", "email_verified": True}))
    assert principal_of(env, social.access_token).verified


# -- closing accounts nobody proved owning --------------------------------------------------------
def closing(env: Env, holds_money=lambda user_id: False) -> AccountClosing:
    return AccountClosing(env.users, env.identity.cipher, env.identity.blind_index, env.identity.logins.end_all,
                          holds_money=holds_money, now=env.clock)


def test_accounts_unverified_for_7_days_are_closed_and_their_address_released():
    env = make_env()
    squatter = env.identity.register("ada@example.com", PASSWORD)
    stale = env.identity.login(PASSWORD, email="ada@example.com")
    proven = env.identity.register("bob@example.com", PASSWORD)
    verify_email(env, proven.user_id, "bob@example.com")
    rich = env.identity.register("cat@example.com", PASSWORD)
    env.clock.advance(UNVERIFIED_DAYS * DAY - 60)
    late = env.identity.register("dan@example.com", PASSWORD)  # a newer one waits its 7 days
    assert closing(env).sweep() == {"closed": 0, "kept": 0}
    env.clock.advance(61)
    assert closing(env, holds_money=lambda user_id: user_id == rich.user_id).sweep() == {"closed": 1, "kept": 1}
    assert env.users.users[squatter.user_id].status == "closed"
    assert {env.users.users[u].status for u in (proven.user_id, rich.user_id, late.user_id)} == {"active"}
    with pytest.raises(Unauthorized):
        env.identity.verify_access(stale.access_token)
    with pytest.raises(InvalidCredentials):
        env.identity.login(PASSWORD, email="ada@example.com")
    # The address is free: its owner registers it.
    assert env.identity.register("ada@example.com", PASSWORD).user_id != squatter.user_id


def test_a_verification_and_a_closing_that_race_never_both_happen():
    env = make_env()
    user = env.identity.register("ada@example.com", PASSWORD)
    read_before = env.users.get(user.user_id)
    assert read_before is not None
    verify_email(env, user.user_id, "ada@example.com")
    assert not closing(env).close(read_before, phone_too=True)  # the write's condition refuses
    assert env.users.users[user.user_id].status == "active"


def test_a_closed_account_never_signs_in_again_by_any_route():
    env = make_env()
    pair, _ = env.identity.social_sign_in(SocialSignIn.of_claims(
        "google", {"sub": "g-1"}))  # the provider gave no e-mail
    user_id = principal_of(env, pair.access_token).user_id
    env.clock.advance(UNVERIFIED_DAYS * DAY + 1)
    assert closing(env).sweep()["closed"] == 1
    with pytest.raises(Unauthorized):
        env.identity.refresh(pair.refresh_token)
    again, created = env.identity.social_sign_in(SocialSignIn.of_claims("google", {"sub": "g-1"}))
    assert created and login_of(env, again.refresh_token).user_id != user_id


# -- a reset proving a never-verified e-mail takes the address back (review 26, F1) ---------------
def squat(env: Env, email: str = "ada@example.com") -> tuple[str, str]:
    """Eve registers someone else's e-mail with her own phone, verifies the phone (the gate lets
    her through now, and the 7-day job never closes the account), turns 2FA on and signs in.
    The account's id, and a refresh token of hers."""
    from chalicelib.domain.verification import Channel

    eve = env.identity.register(email, "eves password for it 99", phone=PHONE)
    env.contacts.send(eve.user_id, Channel.PHONE)
    env.contacts.confirm(eve.user_id, Channel.PHONE, env.outbox.last_code(PHONE))
    turn_2fa_on(env, eve.user_id)
    return eve.user_id, env.identity.login("eves password for it 99", phone=PHONE).refresh_token


def key_of(env: Env, lookup: str) -> str:
    return identity_key(lookup, env.identity.blind_index)


def reset(env: Env, email: str = "ada@example.com", otp: str | None = None) -> None:
    env.recovery.forgot(email)
    env.recovery.reset(email, env.outbox.last_code(email), "the owners own passphrase 7", otp)


def test_a_reset_proving_a_never_verified_email_closes_the_squatters_account_and_opens_a_fresh_one():
    env = make_env()
    eve_id, eves_login = squat(env)
    reset(env)  # no otp asked: the 2FA is Eve's, of an account being closed
    assert env.users.users[eve_id].status == "closed"
    with pytest.raises(Unauthorized):
        env.identity.refresh(eves_login)
    with pytest.raises(InvalidCredentials):  # her phone is no login identifier any more
        env.identity.login("eves password for it 99", phone=PHONE)
    pair = env.identity.login("the owners own passphrase 7", email="ada@example.com")
    mine = env.identity.profile(login_of(env, pair.refresh_token).user_id)
    assert mine.user_id != eve_id and mine.email_verified
    assert (mine.phone, mine.phone_verified, mine.mfa_enabled) == (None, False, False)
    assert env.users.verified_user_for(key_of(env, phone_lookup_key(PHONE))) is None
    email_key = key_of(env, email_lookup_key("ada@example.com"))
    assert env.users.verified_user_for(email_key) == mine.user_id  # a payment address, the owner's
    assert env.delivered[-1] == (email_key, mine.user_id)
    with pytest.raises(CodeExpired):  # the code was used up with the new account
        env.recovery.reset("ada@example.com", env.outbox.last_code("ada@example.com"), "yet another passphrase 9")


def test_the_squatters_money_stays_in_the_closed_accounts_wallets_for_operators(caplog):
    env = make_env()
    eve_id, _ = squat(env)
    env.recovery.holds_money = lambda user_id: user_id == eve_id
    eves_wallets = {w.wallet_id for w in env.users.wallets.values() if w.owner_id == eve_id}
    with caplog.at_level("WARNING"):
        reset(env)
    assert {w.wallet_id for w in env.users.wallets.values() if w.owner_id == eve_id} == eves_wallets
    owner = env.users.user_id_for(key_of(env, email_lookup_key("ada@example.com")))
    assert owner and owner != eve_id and not {w.wallet_id for w in env.users.wallets.values()
                                              if w.owner_id == owner} & eves_wallets
    (record,) = [r for r in caplog.records if r.getMessage() == "an account holding money was closed"]
    assert record.__dict__["user_id"] == eve_id  # an `extra` of the log record


def test_a_reset_racing_the_emails_verification_is_an_ordinary_reset(monkeypatch):
    env = make_env()
    user = env.identity.register("ada@example.com", PASSWORD)
    real_close = env.users.close_unproven

    def verified_first(user_id, release, **kwargs):
        verify_email(env, user.user_id, "ada@example.com")  # the owner's confirmation lands first
        return real_close(user_id, release, **kwargs)

    env.recovery.forgot("ada@example.com")
    code = env.outbox.last_code("ada@example.com")
    monkeypatch.setattr(env.users, "close_unproven", verified_first)
    env.recovery.reset("ada@example.com", code, "the owners own passphrase 7")
    assert env.users.users[user.user_id].status == "active"
    assert env.identity.login("the owners own passphrase 7", email="ada@example.com")


def test_a_phone_verified_while_the_take_back_runs_is_released_with_the_account(monkeypatch):
    # Review R5: the closing released the contacts as read; a phone the squatter verified in
    # between stayed keyed to the closed account (payments to it stuck there, the number taken).
    from chalicelib.domain.verification import Channel

    env = make_env()
    eve = env.identity.register("ada@example.com", "eves password for it 99", phone=PHONE)
    env.contacts.send(eve.user_id, Channel.PHONE)
    real_close = env.users.close_unproven
    raced: list[str] = []

    def phone_verified_first(user_id, release, **kwargs):
        if not raced:
            env.contacts.confirm(eve.user_id, Channel.PHONE, env.outbox.last_code(PHONE))
            raced.append(user_id)
        return real_close(user_id, release, **kwargs)

    monkeypatch.setattr(env.users, "close_unproven", phone_verified_first)
    reset(env)
    assert raced and env.users.users[eve.user_id].status == "closed"
    assert env.users.user_id_for(key_of(env, phone_lookup_key(PHONE))) is None  # free for its owner
    pair = env.identity.login("the owners own passphrase 7", email="ada@example.com")
    assert login_of(env, pair.refresh_token).user_id != eve.user_id


def test_a_reset_of_a_verified_email_still_asks_its_2fa():
    env = make_env()
    user_id, _ = signed_in(env)
    totp = turn_2fa_on(env, user_id)
    with pytest.raises(MfaRequired):
        reset(env)
    env.recovery.reset("ada@example.com", env.outbox.last_code("ada@example.com"), "the owners own passphrase 7",
                       totp.at(env.clock()))
    assert env.users.users[user_id].status == "active"


def test_over_http_the_fifth_wrong_password_in_a_session_ends_it_with_401(app_env, http):
    env = app_env
    user = env.identity.register("ada@example.com", PASSWORD)
    verify_email(env, user.user_id, "ada@example.com")
    stolen = env.identity.login(PASSWORD, email="ada@example.com")
    wrong = {"current_password": "a guess of the thief", "new_password": "the thiefs passphrase 1"}
    answers = [http.request("POST", "/me/mfa/totp", {"password": "a guess of the thief"}, token=stolen.access_token),
               *(http.request("POST", "/me/password", wrong, token=stolen.access_token) for _ in range(4))]
    assert [(status, body["error"]["code"]) for status, body, _ in answers] == [
        (403, "reauth_invalid"), *[(401, "invalid_credentials")] * 3, (401, "unauthorized")]
    assert http.request("GET", "/me", token=stolen.access_token)[0] == 401  # the session is gone
    assert http.request("POST", "/auth/refresh", {"refresh_token": stolen.refresh_token})[0] == 401
    status, _, _ = http.request("POST", "/auth/login", {"email": "ada@example.com", "password": PASSWORD,
                                                        "device_token": stolen.device_token})
    assert status == 200  # the device the session signed in with logs in


# -- re-review of issue 26: look-alike domains (R1, R3) --------------------------------------------

def test_lookup_keys_of_ascii_addresses_are_unchanged():
    """The keys stored before the IDNA rule: all-ASCII addresses keep byte-identical keys."""
    assert email_lookup_key("Ada.Lovelace+x@Example.COM") == "email:ada.lovelace+x@example.com"
    assert email_lookup_key("ada@example.com") == "email:ada@example.com"
    assert email_lookup_key("O'Brien@Sub.Domain.co.UK") == "email:o'brien@sub.domain.co.uk"
    assert email_lookup_key("x@xn--gla-7ka.com") == "email:x@xn--gla-7ka.com"


def test_a_unicode_domain_is_keyed_by_its_idna_form_never_casefolded():
    from chalicelib.domain.contact import normalize_email
    glass, glass_sz = (email_lookup_key(normalize_email(a)) for a in ("alice@glass.com", "alice@glaß.com"))
    assert glass == "email:alice@glass.com"
    assert glass_sz == "email:alice@xn--gla-7ka.com" != glass  # a registrable domain of its own
    assert email_lookup_key(normalize_email("x@Bücher.DE")) == "email:x@xn--bcher-kva.de"
    # its punycode spelling is the same domain, so the same identity
    assert email_lookup_key(normalize_email("alice@xn--gla-7ka.com")) == glass_sz
    # a non-ASCII local part is kept (NFC), never folded to an ASCII look-alike
    assert email_lookup_key("Straße@example.com") == "email:Straße@example.com"
    assert email_lookup_key("e\u0301@example.com") == "email:\u00e9@example.com"


def test_a_reset_asked_for_a_look_alike_domain_sends_nothing_to_it():
    env = make_env()
    victim = env.identity.register("alice@glass.com", PASSWORD)
    verify_email(env, victim.user_id, "alice@glass.com")
    before = len(env.outbox.sent)
    env.recovery.forgot("alice@glaß.com")
    assert env.outbox.sent[before:] == []


def test_a_reset_code_goes_to_the_accounts_stored_address_not_the_typed_one():
    env = make_env()
    user = env.identity.register("Ada@example.com", PASSWORD)
    verify_email(env, user.user_id, "Ada@example.com")
    before = len(env.outbox.sent)
    env.recovery.forgot("ADA@EXAMPLE.com")
    assert [address for _, address, _ in env.outbox.sent[before:]] == ["Ada@example.com"]


def test_a_provider_address_on_a_look_alike_domain_never_links_to_the_account():
    env = make_env()
    victim = env.identity.register("alice@glass.com", PASSWORD)
    verify_email(env, victim.user_id, "alice@glass.com")
    pair, created = env.identity.social_sign_in(SocialSignIn.of_claims(
        "oidc", {"sub": "attacker-1", "email": "alice@glaß.com", "email_verified": True}))
    assert created and login_of(env, pair.refresh_token).user_id != victim.user_id


def test_a_provider_address_found_through_an_item_of_another_address_is_refused(monkeypatch):
    """An identity item keyed by the old casefold rule: alice@glaß.com's account under the key
    of alice@glass.com. The real alice@glass.com's provider sign-in finds it through the item,
    but the stored address is another mailbox: no link, no closing, no new account: 409."""
    from chalicelib.domain import contact
    from chalicelib.domain.errors import EmailTaken
    from chalicelib.services import identity as identity_module
    env = make_env()
    monkeypatch.setattr(identity_module, "email_lookup_key", lambda n: "email:" + n.casefold())
    legacy = env.identity.register("alice@glaß.com", PASSWORD)  # stored under "email:alice@glass.com"
    monkeypatch.setattr(identity_module, "email_lookup_key", contact.email_lookup_key)
    with pytest.raises(EmailTaken):
        env.identity.social_sign_in(SocialSignIn.of_claims(
            "google", {"sub": "g-9", "email": "alice@glass.com", "email_verified": True}))
    assert env.users.user_id_for("google#g-9") is None
    assert env.users.users[legacy.user_id].status != "closed"
    # a case variant of an ASCII local part is the same address: it links
    owner = env.identity.register("Bob@example.com", PASSWORD)
    verify_email(env, owner.user_id, "Bob@example.com")
    pair, created = env.identity.social_sign_in(SocialSignIn.of_claims(
        "google", {"sub": "g-11", "email": "bob@example.com", "email_verified": True}))
    assert not created and login_of(env, pair.refresh_token).user_id == owner.user_id


# -- re-review of issue 26: wrong codes count per login (R2) ----------------------------------------

def test_wrong_codes_in_a_stolen_login_end_it_and_never_lock_the_owners_reset_or_logins():
    env = make_env()
    user_id, thief = signed_in(env)
    owner = principal_of(env, env.identity.login(PASSWORD, email="ada@example.com").access_token)
    totp = turn_2fa_on(env, user_id)
    s = stepup(env)
    for _ in range(SESSION_PASSWORD_FAILURES - 1):
        with pytest.raises(ReauthInvalid):
            s.require(thief, None, "000000")
    with pytest.raises(Unauthorized):  # the fifth wrong code ends the thief's login
        s.require(thief, None, "000000")
    assert thief.session_id and not env.sessions.is_active(thief.session_id, int(env.clock()))
    # the owner's own login still steps up with her code, and her reset still takes her code
    s.require(owner, None, totp.at(env.clock()))
    env.clock.advance(30)
    env.recovery.forgot("ada@example.com")
    env.recovery.reset("ada@example.com", env.outbox.last_code("ada@example.com"), "the owners own passphrase 7",
                       totp.at(env.clock()))


def test_wrong_codes_in_a_reset_have_a_counter_of_their_own():
    from chalicelib.domain.errors import MfaInvalid
    env = make_env()
    user_id, owner = signed_in(env)
    totp = turn_2fa_on(env, user_id)
    env.recovery.forgot("ada@example.com")
    code = env.outbox.last_code("ada@example.com")
    for _ in range(3):
        with pytest.raises(MfaInvalid):
            env.recovery.reset("ada@example.com", code, "the owners own passphrase 7", "000000")
    now = int(env.clock())
    assert env.counters.current(f"otp#reset#{user_id}", now)[0] == 3
    assert env.counters.current(f"otp#{user_id}", now)[0] == 0
    # ...which no login shares: the owner's step-up still takes her code, counting nothing there
    stepup(env).require(owner, None, totp.at(env.clock()))
    assert env.counters.current(f"otp#reset#{user_id}", now)[0] == 3


def test_wrong_codes_of_sensitive_actions_count_for_the_calling_login():
    from chalicelib.domain.errors import MfaInvalid
    env = make_env()
    user_id, thief = signed_in(env)
    totp = turn_2fa_on(env, user_id)
    for _ in range(SESSION_PASSWORD_FAILURES - 1):
        with pytest.raises(MfaInvalid):
            env.mfa.require(user_id, "000000", session_id=thief.session_id)
    with pytest.raises(Unauthorized):
        env.mfa.disable(user_id, "000000", session_id=thief.session_id)
    assert thief.session_id and not env.sessions.is_active(thief.session_id, int(env.clock()))
    env.mfa.require(user_id, totp.at(env.clock()), session_id="another-login")  # nobody else is locked
