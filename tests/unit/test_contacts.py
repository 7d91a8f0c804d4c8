"""Verified contacts and account recovery, on fakes (services.contacts, services.recovery)."""
from __future__ import annotations

import pytest

from chalicelib.domain.commands import SocialSignIn
from chalicelib.domain.contact import email_lookup_key, identity_key, phone_lookup_key
from chalicelib.domain.errors import (
    AlreadyVerified,
    CodeExpired,
    Conflict,
    InvalidCode,
    InvalidCredentials,
    InvalidRequest,
    MfaRequired,
    PhoneTaken,
    TooManyRequests,
    Unauthorized,
)
from chalicelib.domain.verification import Channel, mask_email, mask_phone
from tests.unit.identity_env import PASSWORD, make_env, verify_email

NEW_PASSWORD = "another good passphrase 7"
PHONE = "+6591234567"


def key_of(env, lookup: str) -> str:
    return identity_key(lookup, env.identity.blind_index)


def test_an_email_code_verifies_the_email_and_delivers_what_waits_for_it():
    env = make_env()
    p = env.identity.register("Ada@Example.com", PASSWORD)
    assert env.contacts.send(p.user_id, Channel.EMAIL) == "A***@example.com"
    channel, address, message = env.outbox.sent[-1]
    assert (channel, address) == ("email", "Ada@example.com") and "E-Wallet" in message.text
    code = env.outbox.last_code("Ada@example.com")
    stored = next(iter(env.codes.codes.values()))
    assert code not in repr(stored)  # only a keyed hash is kept
    with pytest.raises(InvalidCode):
        env.contacts.confirm(p.user_id, Channel.EMAIL, "000000" if code != "000000" else "111111")
    env.contacts.confirm(p.user_id, Channel.EMAIL, code)
    assert env.identity.profile(p.user_id).email_verified
    email_key = key_of(env, email_lookup_key("Ada@example.com"))
    assert env.users.verified_user_for(email_key) == p.user_id
    assert env.delivered == [(email_key, p.user_id)]
    with pytest.raises(AlreadyVerified):
        env.contacts.send(p.user_id, Channel.EMAIL)
    with pytest.raises(AlreadyVerified):
        env.contacts.confirm(p.user_id, Channel.EMAIL, code)


def test_a_code_expires_is_replaced_and_burns_after_five_tries():
    env = make_env()
    p = env.identity.register("ada@example.com", PASSWORD, phone=PHONE)
    # Expired after 10 minutes.
    env.contacts.send(p.user_id, Channel.PHONE)
    code = env.outbox.last_code(PHONE)
    env.clock.advance(600)
    with pytest.raises(CodeExpired):
        env.contacts.confirm(p.user_id, Channel.PHONE, code)
    # Replaced by a new send: the old code is "expired", not "wrong".
    env.contacts.send(p.user_id, Channel.PHONE)
    old = env.outbox.last_code(PHONE)
    env.contacts.send(p.user_id, Channel.PHONE)
    new = env.outbox.last_code(PHONE)
    if old != new:
        with pytest.raises(CodeExpired):
            env.contacts.confirm(p.user_id, Channel.PHONE, old)
    # Burned: five tries, then even the right code is refused.
    wrong = "123456" if new != "123456" else "654321"
    for _ in range(4 if old != new else 5):
        with pytest.raises(InvalidCode):
            env.contacts.confirm(p.user_id, Channel.PHONE, wrong)
    with pytest.raises(CodeExpired):
        env.contacts.confirm(p.user_id, Channel.PHONE, new)
    assert not env.identity.profile(p.user_id).phone_verified


def test_a_malformed_code_is_a_wrong_try_and_never_sent_is_expired():
    env = make_env()
    p = env.identity.register("ada@example.com", PASSWORD)
    with pytest.raises(CodeExpired):
        env.contacts.confirm(p.user_id, Channel.EMAIL, "123456")
    env.contacts.send(p.user_id, Channel.EMAIL)
    for bad in ("12345", "abcdef", "1234567", "١٢٣٤٥٦"):
        with pytest.raises(InvalidCode):
            env.contacts.confirm(p.user_id, Channel.EMAIL, bad)


def test_sends_are_limited_to_five_an_hour_per_channel():
    env = make_env()
    p = env.identity.register("ada@example.com", PASSWORD, phone=PHONE)
    for _ in range(5):
        env.contacts.send(p.user_id, Channel.EMAIL)
    with pytest.raises(TooManyRequests) as refused:
        env.contacts.send(p.user_id, Channel.EMAIL)
    assert 0 < refused.value.retry_after <= 3600
    assert len(env.outbox.sent) == 5
    env.contacts.send(p.user_id, Channel.PHONE)  # the other channel has its own budget
    env.clock.advance(3600)
    env.contacts.send(p.user_id, Channel.EMAIL)


def test_no_phone_is_a_bad_request():
    env = make_env()
    p = env.identity.register("ada@example.com", PASSWORD)
    with pytest.raises(InvalidRequest):
        env.contacts.send(p.user_id, Channel.PHONE)


def test_the_first_account_to_verify_a_phone_owns_it():
    env = make_env()
    a = env.identity.register("a@example.com", PASSWORD, phone=PHONE)
    b = env.identity.register("b@example.com", PASSWORD, phone="+65 9123 4567")
    env.contacts.send(a.user_id, Channel.PHONE)
    code_a = env.outbox.last_code(PHONE)
    env.contacts.send(b.user_id, Channel.PHONE)
    code_b = env.outbox.last_code(PHONE)
    env.contacts.confirm(b.user_id, Channel.PHONE, code_b)
    with pytest.raises(PhoneTaken):
        env.contacts.confirm(a.user_id, Channel.PHONE, code_a)
    with pytest.raises(PhoneTaken):
        env.contacts.send(a.user_id, Channel.PHONE)
    with pytest.raises(PhoneTaken):
        env.identity.register("c@example.com", PASSWORD, phone=PHONE)
    assert env.users.verified_user_for(key_of(env, phone_lookup_key(PHONE))) == b.user_id
    assert env.identity.login(PASSWORD, phone=PHONE)  # b's login by phone
    assert env.delivered == [(key_of(env, phone_lookup_key(PHONE)), b.user_id)]


def test_a_new_phone_starts_unverified_frees_the_old_one_and_old_codes_do_not_verify_it():
    env = make_env()
    a = env.identity.register("a@example.com", PASSWORD, phone=PHONE)
    env.contacts.send(a.user_id, Channel.PHONE)
    env.contacts.confirm(a.user_id, Channel.PHONE, env.outbox.last_code(PHONE))
    b = env.identity.register("b@example.com", PASSWORD, phone="+6598765432")
    with pytest.raises(PhoneTaken):
        env.contacts.update_profile(b.user_id, phone=PHONE)
    env.contacts.send(b.user_id, Channel.PHONE)
    sent_to_old = env.outbox.last_code("+6598765432")
    env.contacts.update_profile(b.user_id, first_name="Bea", phone="+6591112222")
    profile = env.identity.profile(b.user_id)
    assert (profile.phone, profile.phone_verified, profile.first_name) == ("+6591112222", False, "Bea")
    with pytest.raises(CodeExpired):  # the code went to the number the account no longer has
        env.contacts.confirm(b.user_id, Channel.PHONE, sent_to_old)
    # A's verified phone is freed by changing it: it stops being A's payment address at once.
    env.contacts.update_profile(a.user_id, phone="+6593334444")
    assert env.users.verified_user_for(key_of(env, phone_lookup_key(PHONE))) is None
    env.identity.register("c@example.com", PASSWORD, phone=PHONE)
    with pytest.raises(InvalidCredentials):
        env.identity.login(PASSWORD, phone=PHONE)
    env.contacts.update_profile(a.user_id, phone="+65 9333 4444")  # the same number: nothing changes
    assert env.identity.profile(a.user_id).phone == "+6593334444"


def test_masks_show_only_what_the_owner_recognises():
    assert mask_email("ada.lovelace@example.com") == "a***@example.com"
    assert mask_phone("+6591234567") == "+65 ****4567"
    assert mask_phone("+14155550100") == "+1 ****0100"


# -- password reset ---------------------------------------------------------------------------
def test_forgot_answers_alike_for_unknown_emails_and_sends_only_to_accounts():
    env = make_env()
    env.identity.register("ada@example.com", PASSWORD)
    env.recovery.forgot("ADA@example.com")
    env.recovery.forgot("nobody@example.com")
    # to the account's own address, not the one typed (re-review 26, R1)
    assert [address for _, address, _ in env.outbox.sent] == ["ada@example.com"]
    assert "password reset code" in env.outbox.sent[0][2].text
    # The same stored state for both (a code each), and the same time floor for both.
    assert len(env.codes.codes) == 2
    assert env.slept == [pytest.approx(0.4), pytest.approx(0.4)]
    with pytest.raises(InvalidRequest):
        env.recovery.forgot("not an e-mail")


def test_forgot_sends_at_most_five_codes_an_hour_and_still_answers():
    env = make_env()
    env.identity.register("ada@example.com", PASSWORD)
    for _ in range(7):
        env.recovery.forgot("ada@example.com")
    assert len(env.outbox.sent) == 5


def test_a_reset_sets_the_password_and_revokes_sessions():
    env = make_env()
    p = env.identity.register("ada@example.com", PASSWORD)
    verify_email(env, p.user_id, "ada@example.com")
    env.delivered.clear()
    pair = env.identity.login(PASSWORD, email="ada@example.com")
    env.recovery.forgot("ada@example.com")
    code = env.outbox.last_code("ada@example.com")
    with pytest.raises(InvalidRequest):  # password rules first: no try of the code is spent
        env.recovery.reset("ada@example.com", code, "short")
    env.recovery.reset("ada@example.com", code, NEW_PASSWORD)
    with pytest.raises(InvalidCredentials):
        env.identity.login(PASSWORD, email="ada@example.com")
    assert env.identity.login(NEW_PASSWORD, email="ada@example.com")
    with pytest.raises(Unauthorized):
        env.identity.refresh(pair.refresh_token)
    assert env.identity.profile(p.user_id).email_verified
    assert env.delivered == [(key_of(env, email_lookup_key("ada@example.com")), p.user_id)]
    with pytest.raises(CodeExpired):  # single use
        env.recovery.reset("ada@example.com", code, "yet another passphrase 9")


def test_a_reset_answers_unknown_emails_like_wrong_codes_even_when_burned():
    env = make_env()
    env.identity.register("ada@example.com", PASSWORD)
    for email in ("ada@example.com", "nobody@example.com"):
        with pytest.raises(InvalidCode):  # never asked for: wrong, for both
            env.recovery.reset(email, "123456", NEW_PASSWORD)
        env.recovery.forgot(email)
    real = env.outbox.last_code("ada@example.com")
    wrong = "123456" if real != "123456" else "654321"
    for email in ("ada@example.com", "nobody@example.com"):
        for _ in range(5):
            with pytest.raises(InvalidCode):
                env.recovery.reset(email, wrong, NEW_PASSWORD)
        with pytest.raises(CodeExpired):
            env.recovery.reset(email, real, NEW_PASSWORD)


def test_a_reset_respects_two_factor_authentication():
    import pyotp

    env = make_env()
    p = env.identity.register("ada@example.com", PASSWORD)
    verify_email(env, p.user_id, "ada@example.com")
    secret = env.mfa.enroll(p.user_id).secret
    env.mfa.confirm(p.user_id, pyotp.TOTP(secret).at(env.clock()))
    env.clock.advance(30)
    env.recovery.forgot("ada@example.com")
    code = env.outbox.last_code("ada@example.com")
    with pytest.raises(MfaRequired):
        env.recovery.reset("ada@example.com", code, NEW_PASSWORD)
    env.recovery.reset("ada@example.com", code, NEW_PASSWORD, otp=pyotp.TOTP(secret).at(env.clock()))
    assert env.identity.login(NEW_PASSWORD, email="ada@example.com")


def test_a_social_only_account_sets_a_password_through_a_reset():
    env = make_env()
    _, created = env.identity.social_sign_in(SocialSignIn.of_claims(
        "google", {"sub": "g-1", "email": "gina@example.com", "email_verified": True}))
    assert created
    user_id = env.users.user_id_for("google#g-1")
    assert user_id is not None
    assert env.identity.profile(user_id).email_verified  # the provider proved it
    email_key = key_of(env, email_lookup_key("gina@example.com"))
    assert env.delivered == [(email_key, user_id)]
    env.recovery.forgot("gina@example.com")
    env.recovery.reset("gina@example.com", env.outbox.last_code("gina@example.com"), NEW_PASSWORD)
    assert env.identity.login(NEW_PASSWORD, email="gina@example.com")


def test_a_provider_proving_an_email_nobody_verified_closes_the_account_that_held_it():
    env = make_env()
    p = env.identity.register("gina@example.com", PASSWORD)
    assert not env.identity.profile(p.user_id).email_verified
    pair, created = env.identity.social_sign_in(SocialSignIn.of_claims(
        "google", {"sub": "g-2", "email": "gina@example.com", "email_verified": True}))
    user_id = env.identity.verify_access(pair.access_token).user_id
    assert created and user_id != p.user_id and env.users.users[p.user_id].status == "closed"
    assert env.identity.profile(user_id).email_verified
    email_key = key_of(env, email_lookup_key("gina@example.com"))
    assert env.users.verified_user_for(email_key) == user_id  # money for the address reaches gina
    assert env.delivered == [(email_key, user_id)]


def test_a_profile_change_racing_another_is_a_conflict_not_a_lost_update():
    env = make_env()
    p = env.identity.register("ada@example.com", PASSWORD, phone=PHONE)
    stale = env.users.get(p.user_id)
    env.contacts.update_profile(p.user_id, phone="+6591112222")
    env.users.get = lambda user_id: stale  # type: ignore[method-assign]  # as read before the change
    with pytest.raises(Conflict):
        env.contacts.update_profile(p.user_id, phone="+6593334444")


def test_one_contact_gets_at_most_ten_codes_an_hour_whichever_accounts_ask():
    env = make_env()
    accounts = [env.identity.register(f"u{i}@example.com", PASSWORD, phone=PHONE).user_id for i in range(3)]
    for i in range(10):
        env.contacts.send(accounts[i % 3], Channel.PHONE)
    with pytest.raises(TooManyRequests):
        env.contacts.send(accounts[0], Channel.PHONE)
    assert len(env.outbox.sent) == 10


def test_guesses_at_one_contact_are_bounded_per_day_across_accounts():
    env = make_env()
    accounts = [env.identity.register(f"u{i}@example.com", PASSWORD, phone=PHONE).user_id for i in range(5)]
    for user_id in accounts:
        env.contacts.send(user_id, Channel.PHONE)
    guesses = 0
    with pytest.raises(TooManyRequests):
        for user_id in accounts * 5:
            try:
                env.contacts.confirm(user_id, Channel.PHONE, "000000")
            except (InvalidCode, CodeExpired):
                guesses += 1
    assert guesses == 20


def test_a_failed_send_is_a_503_that_names_nobody_in_the_logs(caplog):
    from chalicelib.domain.errors import ServiceUnavailable

    env = make_env()
    p = env.identity.register("ada@example.com", PASSWORD)

    def down(to, message):
        raise RuntimeError(f"SES refused {to}")

    env.outbox.send_email = down  # type: ignore[method-assign]
    with pytest.raises(ServiceUnavailable):
        env.contacts.send(p.user_id, Channel.EMAIL)
    env.recovery.forgot("ada@example.com")  # still answers like an unknown e-mail
    assert "ada@example.com" not in caplog.text and "RuntimeError" in caplog.text


def test_addresses_no_one_can_mail_are_refused_at_registration():
    env = make_env()
    with pytest.raises(InvalidRequest):
        env.identity.register("jörg@example.com", PASSWORD)
    assert env.identity.register("ada@bücher.de", PASSWORD).email == "ada@bücher.de"


def test_strangers_reset_guesses_never_block_the_owners_fresh_code():
    # Attack 3b of issue 26: a lock per e-mail on reset tries let anyone who knew the address
    # refuse its owner's right code for a day. Now each code burns after five wrong tries and a
    # fresh one always works; unknown e-mails answer exactly alike (never a 429 either).
    env = make_env()
    env.identity.register("ada@example.com", PASSWORD)
    for email in ("ada@example.com", "nobody@example.com"):
        outcomes = []
        for _ in range(5):
            env.recovery.forgot(email)
            for _ in range(6):
                try:
                    env.recovery.reset(email, "000000", NEW_PASSWORD)
                except (InvalidCode, CodeExpired, TooManyRequests) as err:
                    outcomes.append(err.code)
        assert set(outcomes) == {"invalid_code", "code_expired"} and len(outcomes) == 30, outcomes
    env.clock.advance(3601)  # the stranger used up the hour's sends; the owner asks next hour
    env.recovery.forgot("ada@example.com")
    env.recovery.reset("ada@example.com", env.outbox.last_code("ada@example.com"), NEW_PASSWORD)
    assert env.identity.login(NEW_PASSWORD, email="ada@example.com")
