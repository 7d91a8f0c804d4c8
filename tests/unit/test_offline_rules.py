"""Offline payments, the rules that need no database: what the server's keys accept, how a
voucher is read, and each reason a signed voucher is refused before any money is tried."""
from __future__ import annotations

import base64
import dataclasses
import json
import time

import pytest

from chalicelib.adapters.offline_keys import OfflineKeys
from chalicelib.adapters.signing_keys import generate_private_pem
from chalicelib.domain.offline import (
    Allowance,
    canonical_jws,
    certificate_claims,
    device_key_ok,
    read_voucher,
    voucher_hash,
    voucher_terms,
)
from offline_wallet import jws, keys
from offline_wallet.payer import Chain, sign_voucher

NOW = int(time.time())
ALLOWANCE = Allowance(allowance_id="al_" + "1" * 32, user_id="usr_payer", device_id="dev_1", wallet_id="wal_p",
                      amount=1000, currency="USD", spent=0, status="open", expires_at=NOW + 3600,
                      release_at=NOW + 7200, created_at="t", created_ms=NOW * 1000, certificate="", hold_id="tr_h",
                      kid="k")


@pytest.fixture
def world():
    server = OfflineKeys(generate_private_pem())
    device = keys.new_device_key()
    cert = server.sign_certificate(certificate_claims(ALLOWANCE, keys.public_text(device), "ewallet-test", NOW))
    return server, device, cert


def trusts(server: OfflineKeys, cert: str) -> bool:
    """What a payee's phone concludes from the published JWKS alone."""
    token = jws.read(cert)
    key = keys.offline_keys(server.jwks()).get(str(token.header.get("kid")))
    return key is not None and token.header.get("typ") == "offline-allowance+jwt" and token.verifies_with(key)


def test_certificates_verify_with_the_published_offline_keys(world):
    server, _, cert = world
    assert jws.read(cert).header == {"alg": "EdDSA", "kid": server.kid, "typ": "offline-allowance+jwt"}
    assert trusts(server, cert)
    claims = server.claims(cert)
    assert claims is not None and claims["amount"] == 1000 and claims["owner"] == "usr_payer"
    # The access-token key is another key: nothing it signs passes as a certificate.
    from chalicelib.adapters.tokens import JwtKeys

    assert not trusts(server, JwtKeys(generate_private_pem())._sign(jws.read(cert).payload, "offline-allowance+jwt"))


def test_forged_certificates_fail_the_payee_and_forged_vouchers_fail_the_server(world):
    server, device, cert = world
    other = OfflineKeys(generate_private_pem())
    header, payload = jws.read(cert).header, jws.read(cert).payload
    forgeries = {
        "another key, our kid": jws.sign(header, payload, keys.new_device_key()),
        "another server": other.sign_certificate(payload),
        "tampered amount": ".".join([cert.split(".")[0], jws.b64url(json.dumps({**payload, "amount": 99_999})
                                                                    .encode()), cert.split(".")[2]]),
    }
    for name, token in forgeries.items():
        assert not trusts(server, token), name
    for junk in ("garbage", "a.b.c", "e30." + jws.b64url(b"[" * 2000) + ".x"):
        assert server.claims(junk) is None
    voucher = sign_voucher(Chain(cert), device, "usr_payee", 100)
    assert server.voucher(voucher, keys.public_text(device)) is not None
    assert server.voucher(voucher, keys.public_text(keys.new_device_key())) is None  # another device
    assert server.voucher(voucher, "not-a-key") is None
    assert server.voucher(cert, keys.public_text(device)) is None  # a certificate is not a voucher


def test_one_voucher_has_one_spelling():
    # PyJWT verifies a padded spelling, or one with the stray low bits of the last character
    # set, of the same signature; the server takes only the canonical one, so one voucher can
    # never pass as two (a fake double spend).
    device = keys.new_device_key()
    cert = OfflineKeys(generate_private_pem()).sign_certificate(
        certificate_claims(ALLOWANCE, keys.public_text(device), "ewallet-test", NOW))
    v = sign_voucher(Chain(cert), device, "usr_payee", 100)
    assert canonical_jws(v)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    stray = v[:-1] + alphabet[alphabet.index(v[-1]) ^ 1]  # the same 64 bytes, spelled another way
    assert base64.urlsafe_b64decode(stray.split(".")[2] + "==") == base64.urlsafe_b64decode(v.split(".")[2] + "==")
    for variant in (v + "==", v + "=", v + ".x", v.replace(".", "..", 1), v[:-1], stray):
        assert not canonical_jws(variant), variant


def test_a_retired_offline_key_stays_published_for_what_it_certified():
    from cryptography.hazmat.primitives import serialization

    old = OfflineKeys(generate_private_pem())
    cert = old.sign_certificate({"allowance_id": "al_1", "device_key": "k", "exp": NOW})
    old_public = old._private.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    new = OfflineKeys(generate_private_pem(), retired_public_pems=(old_public,))
    assert new.kid != old.kid and trusts(new, cert)
    assert {k["kid"] for k in new.jwks()["keys"]} == {new.kid, old.kid}
    assert not trusts(OfflineKeys(generate_private_pem()), cert)  # once dropped, payees refuse it


def test_device_keys_are_raw_32_byte_ed25519_in_base64url():
    good = keys.public_text(keys.new_device_key())
    assert device_key_ok(good)
    for bad in ("", "x" * 43 + "=", good[:-1], good + "A", good.replace(good[0], "+"), "A" * 44, 42, None):
        assert not device_key_ok(bad)  # type: ignore[arg-type]


def test_a_voucher_is_read_only_with_every_field_well_typed(world):
    _, device, cert = world
    compact = sign_voucher(Chain(cert), device, "usr_payee", 100)
    payload = jws.read(compact).payload
    v = read_voucher(compact, payload)
    assert v is not None and (v.seq, v.amount, v.cumulative, v.prev) == (1, 100, 100, "")
    assert v.digest == voucher_hash(compact)
    for change in ({"seq": 0}, {"seq": "1"}, {"seq": 2**53}, {"seq": 10**40}, {"amount": 0}, {"amount": -5},
                   {"amount": 1.5}, {"amount": True}, {"cumulative": 50}, {"iat": None}, {"payee": 7},
                   {"currency": None}, {"allowance_id": 1}):
        assert read_voucher(compact, {**payload, **change}) is None, change


@pytest.mark.parametrize(("change", "payee", "code"), [
    ({}, "usr_payee", None),
    ({"allowance_id": "al_other"}, "usr_payee", "invalid_signature"),
    ({"currency": "EUR"}, "usr_payee", "currency_mismatch"),
    ({"iat": NOW + 3601}, "usr_payee", "expired"),
    ({}, "usr_someone_else", "wrong_payee"),
    ({"cumulative": 1001}, "usr_payee", "over_allowance"),
    ({"amount": 1001, "cumulative": 1001}, "usr_payee", "over_allowance"),
])
def test_voucher_terms_give_each_rejection_code(world, change, payee, code):
    _, device, cert = world
    compact = sign_voucher(Chain(cert), device, "usr_payee", 100)
    v = read_voucher(compact, jws.read(compact).payload)
    assert v is not None
    assert voucher_terms(ALLOWANCE, dataclasses.replace(v, **change), payee) == code


def test_an_allowance_reads_active_then_expired_then_closed():
    a = ALLOWANCE
    assert a.status_at(NOW) == "active" and a.status_at(a.expires_at) == "expired"
    assert dataclasses.replace(a, status="closed").status_at(NOW) == "closed"
    assert dataclasses.replace(a, spent=300).remaining == 700
