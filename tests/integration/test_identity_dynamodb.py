"""Identity on DynamoDB Local: uniqueness under concurrency, atomic single use, nothing in plain text."""
from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest

from chalicelib.adapters.aws import client
from chalicelib.adapters.crypto import BlindIndex, FieldCipher
from chalicelib.adapters.dynamodb.counters import DynamoCounters
from chalicelib.adapters.dynamodb.models import ALL_MODELS
from chalicelib.adapters.dynamodb.sessions import DynamoSessions
from chalicelib.adapters.dynamodb.tables import table_name
from chalicelib.adapters.dynamodb.users import DynamoUsers
from chalicelib.adapters.passwords import BcryptHasher
from chalicelib.adapters.tokens import JwtKeys, generate_private_pem
from chalicelib.domain.errors import EmailTaken, MfaInvalid, TooManyRequests, Unauthorized
from chalicelib.services.identity import Identity, TokenPolicy
from chalicelib.services.lockout import Lockout
from chalicelib.services.mfa import Mfa

PASSWORD = "correct horse battery staple 42"


@pytest.fixture(scope="module")
def keys():
    return {"data": base64.b64encode(secrets.token_bytes(32)).decode(),
            "index": base64.b64encode(secrets.token_bytes(32)).decode()}


@pytest.fixture
def identity(bound, keys):
    cipher, bidx = FieldCipher(keys["data"]), BlindIndex(keys["index"])
    users, lockout = DynamoUsers(), Lockout(DynamoCounters())
    mfa = Mfa(users=users, cipher=cipher, lockout=lockout, code_hash=bidx)
    return Identity(users=users, sessions=DynamoSessions(), hasher=BcryptHasher(4), cipher=cipher, blind_index=bidx,
                    jwt=JwtKeys(generate_private_pem()), policy=TokenPolicy("it", "ewallet-api"),
                    login_lockout=lockout, mfa=mfa, default_currency="USD")


def email() -> str:
    return f"it.{uuid.uuid4().hex[:10]}@Example.com"


def test_ten_simultaneous_registrations_of_one_email_make_one_account(identity):
    address = email()

    def attempt(i: int):
        try:
            return identity.register(address.upper() if i % 2 else address, PASSWORD)
        except EmailTaken:
            return "taken"

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(attempt, range(10)))
    created = [r for r in results if r != "taken"]
    assert len(created) == 1 and results.count("taken") == 9
    # The losers left nothing behind: exactly one default wallet for exactly one user.
    from chalicelib.adapters.dynamodb.models import WalletRecord

    assert len(list(WalletRecord.by_owner.query(created[0].user_id))) == 1


def test_concurrent_refreshes_of_one_token_are_a_retry_not_theft(identity):
    address = email()
    identity.register(address, PASSWORD)
    pair = identity.login(PASSWORD, email=address)

    def attempt(_):
        try:
            return identity.refresh(pair.refresh_token)
        except Unauthorized:
            return None

    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(attempt, range(5)))
    winners = [r for r in results if r]
    assert winners  # a client retrying (or racing itself) within seconds keeps its login
    from chalicelib.services.identity import _token_hash

    session = identity.sessions.get(pair.refresh_token.split(".")[1])
    assert session.status == "active" and len(session.recent_hashes) <= 10
    alive = [w for w in winners if _token_hash(w.refresh_token) == session.current_hash]
    assert len(alive) == 1 and identity.verify_access(alive[-1].access_token)
    # Past the grace period the first token is a replay: the family is revoked.
    identity.now = lambda: time.time() + 60
    with pytest.raises(Unauthorized):
        identity.refresh(pair.refresh_token)
    identity.now = time.time
    with pytest.raises(Unauthorized):
        identity.verify_access(alive[-1].access_token)


def test_a_totp_code_is_accepted_once_under_concurrency(identity):
    p = identity.register(email(), PASSWORD)
    totp = pyotp.TOTP(identity.mfa.enroll(p.user_id).secret)
    identity.mfa.confirm(p.user_id, totp.at(time.time() - 30))  # leave the current step unused
    code = totp.now()

    def attempt(_):
        try:
            identity.mfa.require(p.user_id, code)
            return True
        except (MfaInvalid, TooManyRequests):  # replays count as failures toward the lockout
            return False

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(attempt, range(6)))
    assert results.count(True) == 1


def test_counters_count_every_concurrent_failure(bound):
    counters, key, now = DynamoCounters(), f"it#{uuid.uuid4().hex}", int(time.time())
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: counters.hit(key, now, 60), range(20)))
    assert counters.current(key, now)[0] == 20
    assert counters.current(key, now + 61) == (0, 0)


def test_no_plain_value_is_stored_anywhere(identity, stack_settings):
    address = email()
    phone = f"+6591{secrets.randbelow(10**6):06d}"
    p = identity.register(address, PASSWORD, phone=phone, first_name="Zebulon", last_name="Quixote")
    enrollment = identity.mfa.enroll(p.user_id)
    codes = identity.mfa.confirm(p.user_id, pyotp.TOTP(enrollment.secret).now())
    pair = identity.login(PASSWORD, email=address)
    ddb = client("dynamodb", stack_settings)
    dump = ""
    for model in ALL_MODELS:
        pages = ddb.get_paginator("scan").paginate(TableName=table_name(stack_settings, model))
        # Binary attributes (a sealed idempotency answer) are searched as their raw bytes.
        dump += json.dumps([item for page in pages for item in page["Items"]], default=lambda b: b.decode("latin-1"))
    assert p.user_id in dump  # the scan did see this user's items
    plain = [address, address.lower(), address.split("@")[0], phone, phone[1:], "Zebulon", "Quixote",
             enrollment.secret, PASSWORD, pair.refresh_token, pair.refresh_token.split(".")[2],
             *codes, *(c.replace("-", "") for c in codes)]
    assert [v for v in plain if v.lower() in dump.lower()] == []


def test_ciphertext_is_bound_to_owner_and_field(keys):
    cipher = FieldCipher(keys["data"])
    ct = cipher.encrypt("alice@example.com", "usr_1", "email")
    assert cipher.decrypt(ct, "usr_1", "email") == "alice@example.com"
    assert cipher.encrypt("alice@example.com", "usr_1", "email") != ct  # fresh data key each time
    from chalicelib.adapters.crypto import DecryptionFailed

    for owner, field in [("usr_2", "email"), ("usr_1", "phone")]:
        with pytest.raises(DecryptionFailed):
            cipher.decrypt(ct, owner, field)
    with pytest.raises(DecryptionFailed):
        FieldCipher(base64.b64encode(secrets.token_bytes(32)).decode()).decrypt(ct, "usr_1", "email")


def test_ciphertexts_written_before_the_switch_to_the_master_key_provider_still_decrypt():
    # Written by the Material Providers Library's raw AES keyring (namespace "ewallet", key
    # "kek-1"), with a dev-only test key: the stored data of every earlier version.
    key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    old = ("AgR4VnQU/D7kwHJXduln8B/MiPYBCmoZilfro+vyXwJGihsAJQACAAVmaWVsZAAFZW1haWwAB3VzZXJfaWQACnVzcl92ZWN0b3IAAQAHZ"
           "XdhbGxldAAZa2VrLTEAAACAAAAADP+tJbRrdpnUZ9oAngAwwZ4fUUR5IrQR84Kijxdy+NqFlSEcDKlYRszXQVtz6hGA6xChbGjYHnn5JLa"
           "OJrJbAgAAEABlQkv4eh8waUobJg4Cd/SIlgk9GK8WSfSSaBcuY0HKpUFaKhI6aOa1O8/xB0pEmo//////AAAAAQAAAAAAAAAAAAAAAQAAA"
           "A+KLTa8UryZEco2lFaf+/GAjknZnpTCOC6DTKpkj5Ue")
    from chalicelib.adapters.crypto import DecryptionFailed

    assert FieldCipher(key).decrypt(old, "usr_vector", "email") == "ada@example.com"
    with pytest.raises(DecryptionFailed):
        FieldCipher(key).decrypt(old, "usr_vector", "phone")


def test_secrets_come_from_ssm_when_not_in_the_environment(stack_settings):
    from chalicelib.adapters.secrets import MissingSecret, Secrets

    ssm = client("ssm", stack_settings)
    name = f"/ewallet/it/{uuid.uuid4().hex[:8]}/jwt"
    ssm.put_parameter(Name=name, Value="s3cret-value", Type="SecureString")
    calls = []

    def factory():
        calls.append(1)
        return ssm

    secrets_ = Secrets(factory, env={"JWT_PRIVATE_KEY_PARAM": name})
    assert secrets_.get("JWT_PRIVATE_KEY") == "s3cret-value"
    assert secrets_.get("JWT_PRIVATE_KEY") == "s3cret-value" and len(calls) == 1  # cached per container
    with pytest.raises(MissingSecret):
        Secrets(factory, env={}).get("DATA_KEY")
