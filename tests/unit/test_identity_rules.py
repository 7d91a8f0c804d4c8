"""Identity rules with fakes: normalization, password policy, hashing, sessions, lockout, social."""
from __future__ import annotations

import bcrypt
import pytest

from chalicelib.adapters.passwords import BcryptHasher
from chalicelib.domain.commands import SocialSignIn
from chalicelib.domain.contact import normalize_email, normalize_phone
from chalicelib.domain.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidRequest,
    PhoneTaken,
    TooManyRequests,
    Unauthorized,
)
from chalicelib.domain.passwords import check_password, is_common
from chalicelib.services.identity import TokenPair
from tests.unit.identity_env import PASSWORD, make_env, verify_email


@pytest.mark.parametrize("raw,want", [
    ("Alice@Example.COM", "Alice@example.com"),
    ("  bob.smith+tag@EXAMPLE.org ", "bob.smith+tag@example.org"),
])
def test_email_normalization(raw, want):
    assert normalize_email(raw) == want


@pytest.mark.parametrize("raw", ["", "plain", "a@", "@b.com", "a b@c.com", "a@b", "a@@b.com"])
def test_invalid_emails(raw):
    with pytest.raises(InvalidRequest) as e:
        normalize_email(raw)
    assert e.value.details[0]["field"] == "email"


@pytest.mark.parametrize("raw,want", [("+65 9123 4567", "+6591234567"), ("+1 (202) 555-0143", "+12025550143"),
                                      ("+44 20 7946 0958", "+442079460958")])
def test_phone_normalization_to_e164(raw, want):
    assert normalize_phone(raw) == want


@pytest.mark.parametrize("raw", ["91234567", "+65 1234", "+999 123456789", "not a phone", "+6500000000"])
def test_invalid_phones(raw):
    with pytest.raises(InvalidRequest):
        normalize_phone(raw)


@pytest.mark.parametrize("pw", ["short", "x" * 129, "password123", "Password1234!", "P@ssw0rd2026", "1234567890",
                                "qwertyuiop", "aaaaaaaaaaaa", "iloveyou12", "letmein!!!!"])
def test_password_policy_rejects(pw):
    with pytest.raises(InvalidRequest):
        check_password(pw)


@pytest.mark.parametrize("pw", [PASSWORD, "Tr0ub4dor&3xyz", ("horse-battery-" * 10)[:128], "ünïcødé pässwörd ok"])
def test_password_policy_accepts(pw):
    check_password(pw)
    assert not is_common(pw)


def test_bcrypt_never_truncates_long_passwords():
    hasher = BcryptHasher(4)
    long_a = "a" * 72 + "-first"
    long_b = "a" * 72 + "-second"
    hashed = hasher.hash(long_a)
    assert hasher.verify(long_a, hashed) and not hasher.verify(long_b, hashed)


def test_bcrypt_cost_is_at_least_12_by_default():
    hashed = BcryptHasher().hash("correct horse battery")
    assert hashed.startswith("$2b$12$")
    assert bcrypt.checkpw(b"correct horse battery", hashed.encode()) is False  # pre-hashed, not raw


def test_register_encrypts_and_indexes():
    env = make_env()
    p = env.identity.register("Alice@Example.COM", PASSWORD, phone="+65 9123 4567", first_name="Alice")
    assert (p.email, p.phone, p.first_name) == ("Alice@example.com", "+6591234567", "Alice")
    stored = env.users.users[p.user_id]
    assert "Alice@example.com" not in repr(stored) and "+6591234567" not in repr(stored)
    assert all("@" not in k and "659" not in k for k in env.users.identities)
    assert len(env.users.wallets) == 1 and next(iter(env.users.wallets.values())).currency == "USD"
    assert env.identity.profile(p.user_id) == p


def test_duplicates_are_refused_case_insensitively():
    env = make_env()
    alice = env.identity.register("alice@example.com", PASSWORD, phone="+6591234567")
    with pytest.raises(EmailTaken):
        env.identity.register("ALICE@example.com", PASSWORD)
    # An unverified phone belongs to nobody yet: another account may enter it...
    env.identity.register("other@example.com", PASSWORD, phone="+65 9123 4567")
    verify(env, alice.user_id, "+6591234567")
    # ...but once verified it is taken.
    with pytest.raises(PhoneTaken):
        env.identity.register("third@example.com", PASSWORD, phone="+65 9123 4567")


def verify(env, user_id: str, phone: str) -> None:
    from chalicelib.domain.verification import Channel

    env.contacts.send(user_id, Channel.PHONE)
    env.contacts.confirm(user_id, Channel.PHONE, env.outbox.last_code(phone))


def test_login_by_email_or_phone_and_same_error_for_unknown_and_wrong():
    env = make_env()
    alice = env.identity.register("alice@example.com", PASSWORD, phone="+6591234567")
    with pytest.raises(InvalidCredentials):  # login by phone only once the phone is verified
        env.identity.login(PASSWORD, phone="+65 9123 4567")
    verify(env, alice.user_id, "+6591234567")
    assert env.identity.login(PASSWORD, email="ALICE@example.com").token_type == "Bearer"
    assert env.identity.login(PASSWORD, phone="+65 9123 4567").expires_in == 900
    for kwargs in ({"email": "alice@example.com"}, {"email": "nobody@example.com"}):
        with pytest.raises(InvalidCredentials) as e:
            env.identity.login("wrong password!!", **kwargs)
        assert e.value.message == "The credentials are not valid."


def test_clients_without_a_device_token_are_locked_together_after_ten_failures_then_it_expires():
    env = make_env()
    env.identity.register("alice@example.com", PASSWORD)
    for _ in range(10):
        with pytest.raises(InvalidCredentials):
            env.identity.login("wrong password!!", email="alice@example.com")
    with pytest.raises(TooManyRequests) as e:
        env.identity.login(PASSWORD, email="alice@example.com")  # even the right one, from a new client
    assert 0 < e.value.retry_after <= 900
    env.clock.advance(901)
    assert env.identity.login(PASSWORD, email="alice@example.com")


def test_access_token_is_tied_to_its_session():
    env = make_env()
    p = env.identity.register("alice@example.com", PASSWORD)
    pair = env.identity.login(PASSWORD, email="alice@example.com")
    principal = env.identity.verify_access(pair.access_token)
    assert principal.user_id == p.user_id
    env.identity.logout(pair.refresh_token)
    with pytest.raises(Unauthorized):
        env.identity.verify_access(pair.access_token)
    with pytest.raises(Unauthorized):
        env.identity.refresh(pair.refresh_token)


def test_refresh_rotates_and_reuse_revokes_the_family():
    env = make_env()
    env.identity.register("alice@example.com", PASSWORD)
    first = env.identity.login(PASSWORD, email="alice@example.com")
    second = env.identity.refresh(first.refresh_token)
    third = env.identity.refresh(second.refresh_token)
    with pytest.raises(Unauthorized):
        env.identity.refresh(first.refresh_token)  # reuse of a used token
    for token in (third.refresh_token,):
        with pytest.raises(Unauthorized):
            env.identity.refresh(token)  # the whole family is dead
    with pytest.raises(Unauthorized):
        env.identity.verify_access(third.access_token)


@pytest.mark.parametrize("token", ["", "garbage", "rt.ses_x.y", "rt..y", "a.b.c.d"])
def test_unknown_refresh_tokens(token):
    env = make_env()
    with pytest.raises(Unauthorized):
        env.identity.refresh(token)


def test_forged_refresh_token_of_a_real_session_does_not_revoke_it():
    env = make_env()
    env.identity.register("alice@example.com", PASSWORD)
    pair = env.identity.login(PASSWORD, email="alice@example.com")
    session_id = pair.refresh_token.split(".")[1]
    with pytest.raises(Unauthorized):
        env.identity.refresh(f"rt.{session_id}.forged")
    with pytest.raises(Unauthorized):
        env.identity.logout(f"rt.{session_id}.forged")
    assert env.identity.refresh(pair.refresh_token)


def test_password_change_revokes_every_login():
    env = make_env()
    p = env.identity.register("alice@example.com", PASSWORD)
    a = env.identity.login(PASSWORD, email="alice@example.com")
    b = env.identity.login(PASSWORD, email="alice@example.com")
    sid = a.refresh_token.split(".")[1]
    with pytest.raises(InvalidCredentials):
        env.identity.change_password(p.user_id, "not the password", "a brand new passphrase", session_id=sid)
    with pytest.raises(Unauthorized):  # only from a current login of the account
        env.identity.change_password(p.user_id, PASSWORD, "a brand new passphrase")
    env.identity.change_password(p.user_id, PASSWORD, "a brand new passphrase", session_id=sid)
    for pair in (a, b):
        with pytest.raises(Unauthorized):
            env.identity.verify_access(pair.access_token)
    with pytest.raises(InvalidCredentials):
        env.identity.login(PASSWORD, email="alice@example.com")
    assert env.identity.login("a brand new passphrase", email="alice@example.com")


def test_social_creates_then_signs_in_and_links_a_verified_email():
    env = make_env()
    _, created = env.identity.social_sign_in(SocialSignIn.of_claims(
        "google", {"sub": "g-1", "email": "new@example.com", "email_verified": True}))
    assert created
    _, again = env.identity.social_sign_in(SocialSignIn.of_claims("google", {"sub": "g-1"}))
    assert not again
    p = env.identity.register("alice@example.com", PASSWORD)
    verify_email(env, p.user_id, "alice@example.com")
    own = env.identity.login(PASSWORD, email="alice@example.com")
    pair, created = env.identity.social_sign_in(SocialSignIn.of_claims(
        "facebook", {"sub": "f-9", "email": "Alice@Example.com", "email_verified": True}))
    assert not created and env.identity.verify_access(pair.access_token).user_id == p.user_id
    # Its owner proved the address before: the password and the other logins stay.
    assert env.identity.verify_access(own.access_token).user_id == p.user_id
    assert env.identity.login(PASSWORD, email="alice@example.com")
    _, again = env.identity.social_sign_in(SocialSignIn.of_claims("facebook", {"sub": "f-9"}))
    assert not again


def test_a_provider_never_enters_an_account_whose_email_nobody_proved():
    """Attack 1 (pre-account hijacking): the account registered with the victim's e-mail is
    closed, the address released, and the victim's sign-in gets a new account."""
    env = make_env()
    p = env.identity.register("victim@example.com", PASSWORD)  # maybe registered by an attacker
    squatter = env.identity.login(PASSWORD, email="victim@example.com")
    pair, created = env.identity.social_sign_in(SocialSignIn.of_claims(
        "google", {"sub": "g-v", "email": "victim@example.com", "email_verified": True}))
    mine = env.identity.verify_access(pair.access_token).user_id
    assert created and mine != p.user_id
    assert env.users.users[p.user_id].status == "closed"
    assert env.identity.profile(mine).email_verified and env.identity.profile(mine).email == "victim@example.com"
    with pytest.raises(Unauthorized):
        env.identity.verify_access(squatter.access_token)
    with pytest.raises(Unauthorized):
        env.identity.refresh(squatter.refresh_token)
    # The password the attacker set now opens nothing (the address is the victim's account's).
    with pytest.raises(InvalidCredentials):
        env.identity.login(PASSWORD, email="victim@example.com")


def test_social_unverified_email_never_links():
    env = make_env()
    p = env.identity.register("alice@example.com", PASSWORD)
    pair, created = env.identity.social_sign_in(SocialSignIn.of_claims(
        "google", {"sub": "g-2", "email": "alice@example.com", "email_verified": False}))
    assert created and env.identity.verify_access(pair.access_token).user_id != p.user_id


def test_a_doubled_refresh_within_the_grace_period_does_not_revoke_the_login():
    # A client whose first answer was lost retries with the same token a moment later.
    env = make_env()
    env.identity.register("alice@example.com", PASSWORD)
    first = env.identity.login(PASSWORD, email="alice@example.com")
    a = env.identity.refresh(first.refresh_token)
    b = env.identity.refresh(first.refresh_token)
    assert env.identity.verify_access(b.access_token)
    assert env.identity.refresh(b.refresh_token)  # the retry's tokens carry on the login
    with pytest.raises(Unauthorized):  # the lost answer's token was displaced: a replay of it is theft
        env.identity.refresh(a.refresh_token)
    with pytest.raises(Unauthorized):
        env.identity.verify_access(b.access_token)


def test_a_replay_after_the_grace_period_revokes_the_login():
    env = make_env()
    env.identity.register("alice@example.com", PASSWORD)
    first = env.identity.login(PASSWORD, email="alice@example.com")
    second = env.identity.refresh(first.refresh_token)
    env.clock.advance(11)
    with pytest.raises(Unauthorized):
        env.identity.refresh(first.refresh_token)
    with pytest.raises(Unauthorized):
        env.identity.refresh(second.refresh_token)  # revoked with the whole family


def test_a_session_keeps_a_bounded_memory_of_used_tokens():
    env = make_env()
    env.identity.register("alice@example.com", PASSWORD)
    pair: TokenPair = env.identity.login(PASSWORD, email="alice@example.com")
    for _ in range(50):
        pair = env.identity.refresh(pair.refresh_token)
        env.clock.advance(30)
    (session,) = env.sessions.sessions.values()
    assert len(session.recent_hashes) <= 10 and session.status == "active"


def test_untrusted_password_guesses_count_per_identifier_and_tell_nothing_of_the_account():
    """Strangers' guesses count per e-mail or phone, known or not (review 26d): filling a known
    phone's counter used to make its account's own e-mail answer 429 and every other e-mail
    401, which told an attacker which e-mail belongs to the phone."""
    env = make_env()
    p = env.identity.register("alice@example.com", PASSWORD, phone="+6591234567")
    verify(env, p.user_id, "+6591234567")
    env.identity.register("bob@example.com", PASSWORD)
    for _ in range(10):
        with pytest.raises(InvalidCredentials):
            env.identity.login("wrong password!!", phone="+6591234567")
    with pytest.raises(TooManyRequests):
        env.identity.login(PASSWORD, phone="+6591234567")  # even the right password, from a stranger's client
    for candidate in ("nobody@example.com", "bob@example.com", "alice@example.com"):
        with pytest.raises(InvalidCredentials):  # alike for the account's own e-mail and any other
            env.identity.login("wrong password!!", email=candidate)
    assert env.identity.login(PASSWORD, email="alice@example.com").access_token


def test_a_known_and_an_unknown_identifier_cost_the_same_reads_even_when_refused():
    """Review 26e: a 429 skips bcrypt, so an extra read of the account for a known identifier
    was the one thing that timed differently; an unknown one now reads an account nobody has."""
    env = make_env()
    env.identity.register("alice@example.com", PASSWORD)
    reads: list[str] = []
    real_get = env.users.get

    def counted_get(user_id: str) -> object:
        reads.append(user_id)
        return real_get(user_id)

    env.users.get = counted_get  # type: ignore[method-assign, assignment]
    counted = {}
    for address in ("alice@example.com", "nobody@example.com"):
        for _ in range(10):
            with pytest.raises(InvalidCredentials):
                env.identity.login("wrong password!!", email=address)
        reads.clear()
        with pytest.raises(TooManyRequests):
            env.identity.login("wrong password!!", email=address)
        counted[address] = len(reads)
    assert counted["alice@example.com"] == counted["nobody@example.com"] == 1
