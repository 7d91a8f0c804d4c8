"""TOTP: enrollment, single use of each code, recovery codes, lockout (fakes, controlled clock)."""
from __future__ import annotations

import pyotp
import pytest

from chalicelib.domain.errors import (
    MfaAlreadyEnabled,
    MfaInvalid,
    MfaNotEnrolled,
    MfaRequired,
    TooManyRequests,
)
from tests.unit.identity_env import PASSWORD, make_env


def enrolled():
    env = make_env()
    p = env.identity.register("alice@example.com", PASSWORD)
    enrollment = env.mfa.enroll(p.user_id)
    totp = pyotp.TOTP(enrollment.secret)
    codes = env.mfa.confirm(p.user_id, totp.at(env.clock()))
    return env, p.user_id, totp, codes, enrollment


def test_enroll_returns_secret_and_uri_and_stores_it_encrypted():
    env, user_id, _, codes, enrollment = enrolled()
    assert enrollment.otpauth_uri.startswith("otpauth://totp/") and "issuer=E-wallet" in enrollment.otpauth_uri
    assert enrollment.secret not in repr(env.users.users[user_id])
    assert len(codes) == 10 and len(set(codes)) == 10
    assert not any(c in repr(env.users.users[user_id]) for c in codes)


def test_confirm_needs_pending_enrollment_and_valid_code():
    env = make_env()
    p = env.identity.register("alice@example.com", PASSWORD)
    with pytest.raises(MfaNotEnrolled):
        env.mfa.confirm(p.user_id, "123456")
    env.mfa.enroll(p.user_id)
    with pytest.raises(MfaRequired):
        env.mfa.confirm(p.user_id, None)
    with pytest.raises(MfaInvalid):
        env.mfa.confirm(p.user_id, "000000")


def test_enroll_twice_when_on_is_409():
    env, user_id, *_ = enrolled()
    with pytest.raises(MfaAlreadyEnabled):
        env.mfa.enroll(user_id)


def test_a_code_is_accepted_once_and_never_again():
    env, user_id, totp, *_ = enrolled()
    env.clock.advance(30)
    code = totp.at(env.clock())
    env.mfa.require(user_id, code)
    with pytest.raises(MfaInvalid):
        env.mfa.require(user_id, code)
    with pytest.raises(MfaInvalid):  # an older step, after a newer one was used
        env.mfa.require(user_id, totp.at(env.clock() - 30))


def test_codes_as_int_keep_leading_zeros():
    env, user_id, totp, *_ = enrolled()
    env.clock.advance(60)
    code = totp.at(env.clock())
    env.mfa.require(user_id, int(code) if code[0] != "0" else code)


def test_recovery_codes_are_single_use():
    env, user_id, _, codes, _ = enrolled()
    env.mfa.require(user_id, codes[0].upper())
    with pytest.raises(MfaInvalid):
        env.mfa.require(user_id, codes[0])
    env.mfa.require(user_id, codes[1].replace("-", ""))


def test_require_errors():
    env = make_env()
    p = env.identity.register("alice@example.com", PASSWORD)
    with pytest.raises(MfaNotEnrolled):
        env.mfa.require(p.user_id, "123456")
    env, user_id, *_ = enrolled()
    with pytest.raises(MfaRequired):
        env.mfa.require(user_id, None)
    with pytest.raises(MfaRequired):
        env.mfa.require(user_id, "  ")


def test_repeated_wrong_codes_lock_out_even_the_right_code():
    env, user_id, totp, *_ = enrolled()
    env.clock.advance(30)
    for _ in range(5):
        with pytest.raises(MfaInvalid):
            env.mfa.require(user_id, "000000")
    with pytest.raises(TooManyRequests):
        env.mfa.require(user_id, totp.at(env.clock()))


def test_disable_needs_a_code():
    env, user_id, totp, *_ = enrolled()
    with pytest.raises(MfaRequired):
        env.mfa.disable(user_id, None)
    env.clock.advance(30)
    env.mfa.disable(user_id, totp.at(env.clock()))
    assert not env.users.users[user_id].mfa_enabled
    with pytest.raises(MfaNotEnrolled):
        env.mfa.disable(user_id, totp.at(env.clock()))


@pytest.mark.parametrize("otp", ["١٢٣٤٥٦", "Ñ/abc", "12345\u0663", "abcde-fghí", "\x00\x01"])
def test_codes_that_are_not_ascii_are_wrong_codes_not_crashes(otp):
    # Unicode digits match \d, and hmac.compare_digest refuses non-ASCII str: both were 500s.
    env = make_env()
    p = env.identity.register("alice@example.com", PASSWORD)
    env.mfa.enroll(p.user_id)
    with pytest.raises(MfaInvalid):
        env.mfa.confirm(p.user_id, otp)
    env2, user_id, *_ = enrolled()
    with pytest.raises(MfaInvalid):
        env2.mfa.require(user_id, otp)
