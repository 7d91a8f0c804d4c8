"""The QR texts of offline payments (chalicelib/domain/offline_codes.py): a payment code packs a
real certificate and its vouchers into one QR code, reads back to the very same tokens, and no
hostile text gets past it as anything but a refusal (400 over HTTP, never a 5xx)."""
from __future__ import annotations

import json
import time
import zlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.adapters.offline_keys import OfflineKeys
from chalicelib.domain.ids import new_id
from chalicelib.domain.ledger import keyed_id
from chalicelib.domain.offline import Allowance, certificate_claims
from chalicelib.domain.offline_codes import (
    MAX_PAYMENT_CODE,
    PAYMENT_PREFIX,
    QR_BUDGET,
    BadCode,
    ReceiveRequest,
    decode_payment,
    decode_receive,
    encode_payment,
    encode_receive,
)
from offline_wallet import jws, keys
from offline_wallet.__main__ import main
from offline_wallet.payer import Chain, sign_voucher
from tests.unit.identity_env import PASSWORD, verify_email

NOW = int(time.time())


@pytest.fixture(scope="module")
def world() -> dict:
    """A certificate as the server signs it (its offline key, its ids, the longest expiry) and a
    device that signs vouchers under it."""
    pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()).decode()
    ring, device, owner = OfflineKeys(pem), keys.new_device_key(), new_id("usr")
    allowance = Allowance(
        allowance_id=keyed_id("al", owner, "offline.allowances", "a-client-key"), user_id=owner,
        device_id=new_id("dev"), wallet_id=new_id("wal"), amount=50_000, currency="USD", spent=0, status="open",
        expires_at=NOW + 7 * 86400, release_at=0, created_at="", created_ms=0, certificate="", hold_id="",
        kid=ring.kid)
    certificate = ring.sign_certificate(certificate_claims(allowance, keys.public_text(device), "ewallet-prod", NOW))
    return {"certificate": certificate, "device": device, "payee": new_id("usr"), "jwks": ring.jwks()}


def vouchers(world: dict, n: int) -> list[str]:
    chain = Chain(world["certificate"])
    return [sign_voucher(chain, world["device"], world["payee"], 1_234, NOW) for _ in range(n)]


def test_a_payment_code_reads_back_the_very_same_tokens(world):
    for n in (1, 2, 5):
        signed = vouchers(world, n)
        code = encode_payment(world["certificate"], signed)
        assert code.startswith(PAYMENT_PREFIX) and code.isascii()
        assert decode_payment(code).certificate == world["certificate"]
        assert list(decode_payment(code).vouchers) == signed


def test_one_voucher_and_its_certificate_fit_one_qr_code(world):
    code = encode_payment(world["certificate"], vouchers(world, 1))
    plain = len(world["certificate"]) + 1 + len(vouchers(world, 1)[0])
    assert len(code.encode()) <= QR_BUDGET
    assert len(code) < 0.8 * plain  # packing pays: ~740 bytes where the two tokens are ~980
    assert len(encode_payment(world["certificate"], vouchers(world, 3)).encode()) <= QR_BUDGET


def test_only_canonical_tokens_are_packed(world):
    good = vouchers(world, 1)[0]
    for bad in ([], ["not.a.jws"], [good + "="], [good] * 51):
        with pytest.raises(BadCode):
            encode_payment(world["certificate"], bad)


def packed(raw: bytes, tail: bytes = b"") -> str:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return PAYMENT_PREFIX + jws.b64url(packer.compress(raw) + packer.flush() + tail)


def fields(*parts: bytes) -> bytes:
    return b"".join(len(p).to_bytes(2, "big") + p for p in parts)


def hostile_codes(world: dict) -> list[object]:
    good = encode_payment(world["certificate"], vouchers(world, 1))
    token = fields(b"{}", b"{}", b"s" * 64)
    return [
        "", "EWP1:", "ewp1:" + good[5:], "EWP2:" + good[5:], good + "=", good[:-3] + "===", good[:40],
        "EWP1:" + "A" * (MAX_PAYMENT_CODE + 1), "EWP1:!!!!", "EWP1:AAAA", good + "\n", 123, None, ["x"],
        packed(b"\x00" * (1 << 20)),  # a zip bomb: 1 MiB of zeros in about 1 KB
        packed(token * 2, tail=b"trailing"), packed(token * 2)[:-4],
        packed(token),  # a certificate and no voucher
        packed(token * 53),  # more vouchers than a call takes
        packed(token + fields(b"{}", b"{}")),  # a field short of a token
        packed(token + b"\x00\x09abc"),  # a field longer than what is left
        packed(token + fields(b"x" * 4000, b"{}", b"s" * 64)),  # a token longer than a JWS may be
    ]


def test_hostile_payment_codes_are_refused_by_the_decoder(world):
    for code in hostile_codes(world):
        with pytest.raises(BadCode):
            decode_payment(code)  # type: ignore[arg-type]


def test_a_receive_code_names_the_payee_and_maybe_an_amount():
    assert encode_receive("usr_abc") == "EWR1:usr_abc"
    assert encode_receive("usr_abc", 350, "USD") == "EWR1:usr_abc:350:USD"
    assert decode_receive("EWR1:usr_abc:350:USD") == ReceiveRequest("usr_abc", 350, "USD")
    assert decode_receive("EWR1:usr_abc") == ReceiveRequest("usr_abc")
    for bad in ("", "EWR1:", "EWR1:usr abc", "EWR1:usr_abc:350", "EWR1:usr_abc:0:USD", "EWR1:usr_abc:035:USD",
                "EWR1:usr_abc:350:usd", "EWR1:usr_abc:350:USD:x", "EWR1:usr_abc:9007199254740992:USD",
                "EWP1:usr_abc", "ewr1:usr_abc", "EWR1:" + "u" * 101):
        with pytest.raises(BadCode):
            decode_receive(bad)
    for args in (("usr_abc", 350), ("usr_abc", None, "USD"), ("usr_abc", True, "USD"), ("a:b",)):
        with pytest.raises(BadCode):
            encode_receive(*args)  # type: ignore[arg-type]


# -- over HTTP: the route refuses every hostile code with 400, and takes exactly one form ------------
@pytest.fixture
def caller(env) -> str:
    user = env.identity.register("grace@example.com", PASSWORD)
    verify_email(env, user.user_id, "grace@example.com")
    return env.identity.login(PASSWORD, email="grace@example.com").access_token


def redeem(http, token: str, body: dict):
    return http.request("POST", "/offline/redeem", body, token=token, headers={"Idempotency-Key": "k-1"})


def test_hostile_codes_and_mixed_forms_are_400_over_http(http, caller, world):
    for code in hostile_codes(world):
        status, body, _ = redeem(http, caller, {"payment_code": code})
        assert (status, body["error"]["code"]) == (400, "invalid_request"), code
    signed = vouchers(world, 1)
    good = encode_payment(world["certificate"], signed)
    for mixed in ({"payment_code": good, "certificate": world["certificate"]},
                  {"payment_code": good, "vouchers": signed},
                  {"payment_code": good, "certificate": world["certificate"], "vouchers": signed},
                  {"certificate": world["certificate"]}, {"vouchers": signed}, {}):
        status, body, _ = redeem(http, caller, mixed)
        assert (status, body["error"]["code"]) == (400, "invalid_request"), mixed
    status, body, _ = redeem(http, caller, {"payment_code": good[:-2]})
    assert body["error"]["details"][0]["field"] == "payment_code"


def test_the_document_says_one_form_or_the_other(http):
    doc = http.request("GET", "/openapi.json")[1]
    schema = doc["components"]["schemas"]["RedeemIn"]
    assert [sorted(form["required"]) for form in schema["oneOf"]] == [["certificate", "vouchers"], ["payment_code"]]
    assert "required" not in schema and schema["properties"]["payment_code"]["maxLength"] == MAX_PAYMENT_CODE


# -- the command-line client: receive code -> payment code -> verified offline -----------------------
def run(capsys, *args: str) -> tuple[int, str]:
    status = main(list(args))
    return status, capsys.readouterr().out.strip()


def test_the_cli_pays_a_receive_code_with_a_payment_code_its_payee_verifies(world, tmp_path, capsys):
    device = tmp_path / "device.json"
    device.write_text(json.dumps({"private_key": keys.private_to_text(world["device"])}))
    (tmp_path / "keys.json").write_text(json.dumps(world["jwks"]))
    status, asked = run(capsys, "receive", "--me", world["payee"], "--amount", "350", "--currency", "USD")
    assert status == 0 and asked == f"EWR1:{world['payee']}:350:USD"
    status, code = run(capsys, "sign", "--key", str(device), "--certificate", world["certificate"],
                       "--receive-code", asked, "--chain", str(tmp_path / "chain.json"), "--payment-code")
    assert status == 0 and code.startswith(PAYMENT_PREFIX) and len(code) <= QR_BUDGET
    verify = ("verify", "--keys", str(tmp_path / "keys.json"), "--me", world["payee"],
              "--seen", str(tmp_path / "seen.json"))
    status, out = run(capsys, *verify, "--payment-code", code)
    assert status == 0 and json.loads(out) == {"accepted": True, "code": None, "seq": 1, "amount": 350}
    status, out = run(capsys, *verify, "--payment-code", code)  # shown twice: paid once
    assert status == 1 and json.loads(out)["code"] == "already_seen"
    status, out = run(capsys, *verify, "--payment-code", code[:-5])
    assert status == 1 and json.loads(out)["code"] == "malformed_code"
    status, out = run(capsys, "verify", "--keys", str(tmp_path / "keys.json"), "--me", "usr_someone_else",
                      "--payment-code", code)
    assert status == 1 and json.loads(out)["code"] == "wrong_payee"  # a code for someone else


def test_the_cli_pays_only_what_the_receive_code_asks(world, tmp_path, capsys):
    device = tmp_path / "device.json"
    device.write_text(json.dumps({"private_key": keys.private_to_text(world["device"])}))
    sign = ("sign", "--key", str(device), "--certificate", world["certificate"])
    assert main([*sign, "--receive-code", f"EWR1:{world['payee']}:350:EUR"]) == 1  # another currency
    assert main([*sign, "--receive-code", f"EWR1:{world['payee']}:350:USD", "--amount", "351"]) == 1
    assert main([*sign, "--receive-code", f"EWR1:{world['payee']}"]) == 1  # no amount asked, none given
    assert main([*sign, "--receive-code", "EWR1:"]) == 1
    assert main([*sign, "--payee", world["payee"]]) == 1
    capsys.readouterr()
    status, voucher = run(capsys, *sign, "--receive-code", f"EWR1:{world['payee']}", "--amount", "5")
    assert status == 0 and jws.read(voucher).payload["amount"] == 5
