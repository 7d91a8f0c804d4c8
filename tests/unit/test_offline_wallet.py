"""The offline client library: two phones with no network, a server key standing in for the
server's offline key, and every reason a payee refuses a voucher offline."""
from __future__ import annotations

import json
import time

import jwt
import pytest

from offline_wallet import jws, keys
from offline_wallet.__main__ import main
from offline_wallet.payee import Seen, check
from offline_wallet.payer import CannotPay, Chain, sign_voucher

NOW = int(time.time())  # the command-line tool signs at the real time


@pytest.fixture
def world():
    server, device = keys.new_device_key(), keys.new_device_key()
    payload = {"iss": "ewallet-test", "allowance_id": "alw_1", "device_id": "dev_1",
               "device_key": keys.public_text(device), "owner": "usr_payer", "amount": 1000, "currency": "USD",
               "iat": NOW, "exp": NOW + 3600}
    cert = jws.sign({"alg": "EdDSA", "kid": "off-1", "typ": "offline-allowance+jwt"}, payload, server)
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "off-1", "x": keys.public_text(server)}]}
    return {"server": server, "device": device, "cert": cert, "jwks": jwks, "payload": payload}


def test_three_vouchers_signed_offline_are_accepted_offline_and_readable_by_pyjwt(world):
    chain, seen, trusted = Chain(world["cert"]), Seen(), keys.offline_keys(world["jwks"])
    vouchers = [sign_voucher(chain, world["device"], "usr_payee", amount, NOW + i) for i, amount in
                enumerate((100, 250, 50))]
    verdicts = [check(world["cert"], v, trusted, "usr_payee", seen) for v in vouchers]
    assert [(v.accepted, v.seq, v.amount) for v in verdicts] == [(True, 1, 100), (True, 2, 250), (True, 3, 50)]
    assert chain.remaining == 600 and chain.seq == 3
    # The server reads them with PyJWT; a device's clock may run ahead, so `iat` is compared with
    # the allowance's expiry only, never with the server's clock.
    third = jwt.decode(vouchers[2], keys.public_from_text(world["payload"]["device_key"]), algorithms=["EdDSA"],
                       options={"verify_iat": False})
    assert third["cumulative"] == 400 and third["prev"] and third["payee"] == "usr_payee"


def test_a_payee_refuses_what_it_cannot_trust(world):
    trusted = keys.offline_keys(world["jwks"])
    chain = Chain(world["cert"])
    good = sign_voucher(chain, world["device"], "usr_payee", 100, NOW)

    def verdict(cert, voucher, me="usr_payee", seen=None):
        return check(cert, voucher, trusted, me, seen or Seen()).code

    thief = keys.new_device_key()
    assert verdict(world["cert"], sign_voucher(Chain(world["cert"]), thief, "usr_payee", 100, NOW)) \
        == "invalid_signature"  # not the certified device
    forged_cert = jws.sign({"alg": "EdDSA", "kid": "off-1", "typ": "offline-allowance+jwt"},
                           {**world["payload"], "amount": 10**9}, thief)
    assert verdict(forged_cert, good) == "invalid_signature"  # not the server's key
    head, body, sig = good.split(".")
    tampered = json.loads(jws.unb64url(body)) | {"amount": 999, "cumulative": 999}
    assert verdict(world["cert"], f"{head}.{jws.b64url(json.dumps(tampered).encode())}.{sig}") == "invalid_signature"
    assert verdict(world["cert"], "not.a.jws") == verdict("garbage", good) == "invalid_signature"
    assert verdict(world["cert"], good, me="usr_someone_else") == "wrong_payee"

    def signed(**changes):
        payload = {"allowance_id": "alw_1", "seq": 1, "prev": "", "amount": 100, "cumulative": 100,
                   "currency": "USD", "payee": "usr_payee", "iat": NOW, **changes}
        return jws.sign({"alg": "EdDSA", "typ": "offline-voucher+jwt"}, payload, world["device"])

    assert verdict(world["cert"], signed(currency="EUR")) == "currency_mismatch"
    assert verdict(world["cert"], signed(amount=1001, cumulative=1001)) == "over_allowance"
    assert verdict(world["cert"], signed(iat=NOW + 3601)) == "expired"
    assert verdict(world["cert"], signed(amount=0, cumulative=0)) == "invalid_voucher"
    assert verdict(world["cert"], signed(amount=True)) == "invalid_voucher"
    # What the server would refuse as malformed, the payee refuses too.
    assert verdict(world["cert"], signed(seq=5, amount=100, cumulative=1)) == "invalid_voucher"
    assert verdict(world["cert"], signed(seq=2**53)) == "invalid_voucher"
    good, alphabet = signed(), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    stray = good[:-1] + alphabet[alphabet.index(good[-1]) ^ 1]  # the same signature, spelled another way
    assert verdict(world["cert"], stray) == "invalid_signature"
    assert verdict(world["cert"], signed(allowance_id="alw_2")) == "invalid_voucher"
    assert verdict(world["cert"], signed(prev="x")) == "broken_chain"


def test_a_cloned_device_is_caught_when_it_pays_the_same_payee_twice_with_one_seq(world):
    trusted, seen = keys.offline_keys(world["jwks"]), Seen()
    original, clone = Chain(world["cert"]), Chain(world["cert"])  # the clone copied the chain at seq 0
    first = sign_voucher(original, world["device"], "usr_payee", 300, NOW)
    assert check(world["cert"], first, trusted, "usr_payee", seen).accepted
    assert check(world["cert"], first, trusted, "usr_payee", seen).code == "already_seen"
    copy = sign_voucher(clone, world["device"], "usr_payee", 200, NOW + 1)
    assert check(world["cert"], copy, trusted, "usr_payee", seen).code == "double_spend"
    # the next voucher of the original chains on the first one
    second = sign_voucher(original, world["device"], "usr_payee", 100, NOW + 2)
    assert check(world["cert"], second, trusted, "usr_payee", seen).accepted
    wrong_chain = sign_voucher(clone, world["device"], "usr_payee", 1, NOW + 3)  # clone's seq 2, other prev
    fresh = Seen()
    assert check(world["cert"], first, trusted, "usr_payee", fresh).accepted
    assert check(world["cert"], wrong_chain, trusted, "usr_payee", fresh).code == "broken_chain"


def test_a_device_will_not_sign_what_can_never_be_redeemed(world):
    chain = Chain(world["cert"])
    for amount in (0, -5, 1001, True):
        with pytest.raises(CannotPay):
            sign_voucher(chain, world["device"], "usr_payee", amount, NOW)
    with pytest.raises(CannotPay):
        sign_voucher(chain, world["device"], "usr_payee", 10, NOW + 3601)
    assert chain.seq == 0 and chain.cumulative == 0


def test_the_command_line_tool_plays_both_phones(world, tmp_path, capsys):
    key_file, chain_file, seen_file, jwks_file = (str(tmp_path / n) for n in ("k.json", "c.json", "s.json", "j.json"))
    (tmp_path / "j.json").write_text(json.dumps(world["jwks"]))
    assert main(["keygen", "--out", key_file]) == 0
    public = json.loads(capsys.readouterr().out)["public_key"]
    assert json.loads((tmp_path / "k.json").read_text())["public_key"] == public
    (tmp_path / "k.json").write_text(json.dumps({"private_key": keys.private_to_text(world["device"])}))
    vouchers = []
    for amount in ("100", "250"):
        assert main(["sign", "--key", key_file, "--certificate", world["cert"], "--payee", "usr_payee",
                     "--amount", amount, "--chain", chain_file]) == 0
        vouchers.append(capsys.readouterr().out.strip())
    assert json.loads((tmp_path / "c.json").read_text())[world["cert"]]["cumulative"] == 350
    for v in vouchers:
        assert main(["verify", "--certificate", world["cert"], "--voucher", v, "--keys", jwks_file,
                     "--me", "usr_payee", "--seen", seen_file]) == 0
        assert json.loads(capsys.readouterr().out)["accepted"] is True
    assert main(["verify", "--certificate", world["cert"], "--voucher", vouchers[0], "--keys", jwks_file,
                 "--me", "usr_payee", "--seen", seen_file]) == 1
    assert json.loads(capsys.readouterr().out)["code"] == "already_seen"
    assert main(["sign", "--key", key_file, "--certificate", world["cert"], "--payee", "usr_payee",
                 "--amount", "651", "--chain", chain_file]) == 1  # over what is left
