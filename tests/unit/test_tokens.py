import datetime
import time

import jwt
import jwt.api_jwt
import pytest

from chalicelib.adapters.tokens import JwtKeys, generate_private_pem
from chalicelib.domain.errors import Unauthorized
from tests.token_attacks import forgeries

AUD, ISS = "ewallet-api", "ewallet-test"


def claims(**over):
    now = int(time.time())
    return {"iss": ISS, "aud": AUD, "sub": "usr_1", "sid": "ses_1", "iat": now, "exp": now + 900,
            "jti": "j", "token_use": "access", **over}


def test_sign_and_verify():
    keys = JwtKeys(generate_private_pem())
    token = keys.sign(claims())
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": keys.kid, "typ": "at+jwt"}
    assert keys.verify(token, audience=AUD, issuer=ISS)["sub"] == "usr_1"


@pytest.mark.parametrize("name", list(forgeries(JwtKeys(generate_private_pem()).sign(claims()),
                                                JwtKeys(generate_private_pem()).jwks())))
def test_every_forgery_is_refused(name):
    keys = JwtKeys(generate_private_pem())
    token = keys.sign(claims())
    forged = forgeries(token, keys.jwks())[name]
    with pytest.raises(Unauthorized):
        keys.verify(forged, audience=AUD, issuer=ISS)


def test_a_verified_token_is_remembered_until_it_expires_and_never_longer(monkeypatch):
    import chalicelib.adapters.tokens as tokens

    keys = JwtKeys(generate_private_pem())
    token = keys.sign(claims(exp=int(time.time()) + 60))
    first = keys.verify(token, audience=AUD, issuer=ISS)
    first["sub"] = "usr_changed_by_a_caller"  # the caller's copy: the remembered claims stay
    assert keys.verify(token, audience=AUD, issuer=ISS)["sub"] == "usr_1"
    # Remembered per audience and issuer: another audience is checked, and refused.
    with pytest.raises(Unauthorized):
        keys.verify(token, audience="another-api", issuer=ISS)
    # Forgeries of a remembered token are other strings: each is checked, and refused.
    for forged in forgeries(token, keys.jwks()).values():
        with pytest.raises(Unauthorized):
            keys.verify(forged, audience=AUD, issuer=ISS)
    # At its expiry, the remembered token is refused like any other.
    later = time.time() + 61

    class Later(datetime.datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
            return datetime.datetime.fromtimestamp(later, tz=tz)

    monkeypatch.setattr(tokens.time, "time", lambda: later)
    monkeypatch.setattr(jwt.api_jwt, "datetime", Later)  # PyJWT's own clock, for the check again
    with pytest.raises(Unauthorized):
        keys.verify(token, audience=AUD, issuer=ISS)


def test_the_memory_of_verified_tokens_is_bounded(monkeypatch):
    import chalicelib.adapters.tokens as tokens

    monkeypatch.setattr(tokens, "VERIFIED_MAX", 3)
    keys = JwtKeys(generate_private_pem())
    for i in range(10):
        keys.verify(keys.sign(claims(jti=f"j{i}")), audience=AUD, issuer=ISS)
        assert len(keys._verified) <= 3


@pytest.mark.parametrize("bad", [{"token_use": "refresh"}, {"token_use": None}, {"exp": None}])
def test_missing_or_wrong_claims(bad):
    keys = JwtKeys(generate_private_pem())
    c = {k: v for k, v in claims(**bad).items() if v is not None}
    with pytest.raises(Unauthorized):
        keys.verify(keys.sign(c), audience=AUD, issuer=ISS)


def test_rotation_keeps_retired_keys_verifiable_and_published():
    old = JwtKeys(generate_private_pem())
    token = old.sign(claims())
    from cryptography.hazmat.primitives import serialization

    old_public = old._private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    new = JwtKeys(generate_private_pem(), retired_public_pems=(old_public,))
    assert new.verify(token, audience=AUD, issuer=ISS)["sub"] == "usr_1"
    assert {k["kid"] for k in new.jwks()["keys"]} == {new.kid, old.kid}
