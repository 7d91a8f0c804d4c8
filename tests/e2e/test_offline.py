"""Offline payments end to end: two phones (the `offline_wallet` command-line tool, with no
network between them) and the API of the local stack."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyotp
import pytest

from tests.e2e.conftest import PASSWORD, wait_for
from tests.e2e.test_ledger import code, default_wallet

ROOT = Path(__file__).resolve().parents[2]


class Phone:
    """A phone running the client library's command-line tool, in its own folder. It has no
    network: everything it knows came through a file (keys, certificate) or a QR code (ids)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "offline_wallet", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})

    def keygen(self) -> str:
        out = self.run("keygen", "--out", str(self.folder / "device.json"))
        assert out.returncode == 0, out.stderr
        return str(json.loads(out.stdout)["public_key"])

    def sign(self, certificate: str, payee: str, amount: int) -> str:
        out = self.run("sign", "--key", str(self.folder / "device.json"), "--certificate", certificate,
                       "--payee", payee, "--amount", str(amount), "--chain", str(self.folder / "chain.json"))
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def verify(self, certificate: str, voucher: str, me: str) -> dict:
        out = self.run("verify", "--certificate", certificate, "--voucher", voucher, "--keys",
                       str(self.folder / "offline-keys.json"), "--me", me, "--seen", str(self.folder / "seen.json"))
        return dict(json.loads(out.stdout))


def enroll(user) -> tuple[pyotp.TOTP, list[str]]:
    totp = pyotp.TOTP(user.api.request("POST", "/me/mfa/totp", {"password": PASSWORD}).json()["secret"])
    r = user.api.request("POST", "/me/mfa/totp/confirm", {"otp": totp.at(time.time() - 30)})
    assert r.status_code == 200, r.text
    return totp, list(r.json()["recovery_codes"])


def device(user, phone: Phone, name: str = "phone") -> dict:
    # Step-up (2FA is still off here): a session alone cannot add a device.
    r = user.api.request("POST", "/offline/devices", {"public_key": phone.keygen(), "name": name,
                                                      "password": PASSWORD})
    assert r.status_code == 201, r.text
    return dict(r.json())


def allow(user, body: dict, key: str | None = None):
    return user.api.request("POST", "/offline/allowances", body, headers={"Idempotency-Key": key or uuid.uuid4().hex})


def redeem(user, certificate: str, vouchers: list[str], key: str | None = None):
    return user.api.request("POST", "/offline/redeem", {"certificate": certificate, "vouchers": vouchers},
                            headers={"Idempotency-Key": key or uuid.uuid4().hex})


def wallet(user) -> dict:
    return dict(user.api.request("GET", f"/wallets/{default_wallet(user)['wallet_id']}").json())


def test_the_offline_journey(api, new_user, fund, tmp_path):
    payer, payee = new_user(), new_user()
    w = default_wallet(payer)["wallet_id"]
    fund(w, 20_000)
    payer_phone, payee_phone = Phone(tmp_path / "payer"), Phone(tmp_path / "payee")

    # Online, once: the payee's phone saves the offline keys (a different key from access tokens).
    r = api.request("GET", "/.well-known/offline-keys.json")
    assert r.status_code == 200 and r.json()["keys"][0]["crv"] == "Ed25519"
    access_kids = {k["kid"] for k in api.request("GET", "/.well-known/jwks.json").json()["keys"]}
    assert not access_kids & {k["kid"] for k in r.json()["keys"]}
    (payee_phone.folder / "offline-keys.json").write_text(r.text)

    d = device(payer, payer_phone, "Ann's phone")
    assert (d["status"], d["name"]) == ("active", "Ann's phone")
    assert payer.api.request("GET", "/offline/devices").json()["items"][0]["device_id"] == d["device_id"]
    body = {"device_id": d["device_id"], "wallet_id": w, "amount": 5_000}
    assert code(allow(payer, body)) == "mfa_not_enrolled"
    totp, _ = enroll(payer)
    assert code(allow(payer, body)) == "mfa_required"
    assert code(payer.api.request("POST", "/offline/allowances", {**body, "otp": totp.now()})) == \
        "idempotency_key_required"
    key = uuid.uuid4().hex
    r = allow(payer, {**body, "otp": totp.now()}, key)
    assert r.status_code == 201, r.text
    a = r.json()
    assert (a["amount"], a["spent"], a["remaining"], a["status"], a["currency"]) == (5_000, 0, 5_000, "active", "USD")
    again = allow(payer, {**body, "otp": "stale"}, key)  # a retry: the first answer, no second hold
    assert again.status_code == 201 and again.json() == a and again.headers["Idempotent-Replayed"] == "true"
    assert (wallet(payer)["balance"], wallet(payer)["held"], wallet(payer)["available"]) == (20_000, 5_000, 15_000)

    # Offline: three vouchers signed by the payer's phone, each checked by the payee's phone.
    me = payee.user["user_id"]
    vouchers = [payer_phone.sign(a["certificate"], me, amount) for amount in (1_200, 800, 500)]
    for v in vouchers:
        assert payee_phone.verify(a["certificate"], v, me)["accepted"] is True
    assert payee_phone.verify(a["certificate"], vouchers[0], me)["code"] == "already_seen"

    # Back online: the payee redeems them, exactly once.
    r = redeem(payee, a["certificate"], vouchers)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [(x["seq"], x["status"]) for x in results] == [(1, "credited"), (2, "credited"), (3, "credited")]
    again = redeem(payee, a["certificate"], vouchers).json()["results"]
    assert [(x["status"], x["transfer_id"]) for x in again] == [("already_redeemed", x["transfer_id"]) for x in results]
    assert [x["code"] for x in redeem(payer, a["certificate"], vouchers[:1]).json()["results"]] == ["wrong_payee"]

    assert (wallet(payer)["balance"], wallet(payer)["held"], wallet(payer)["available"]) == (17_500, 2_500, 15_000)
    assert wallet(payee)["balance"] == 2_500
    got = payer.api.request("GET", f"/offline/allowances/{a['allowance_id']}").json()
    assert (got["spent"], got["remaining"], got["status"]) == (2_500, 2_500, "active")
    assert payer.api.request("GET", "/offline/allowances").json()["items"][0]["allowance_id"] == a["allowance_id"]
    assert payee.api.request("GET", f"/offline/allowances/{a['allowance_id']}").status_code == 404

    # Both statements: the payer's three redeemed debits and the hold of what is left.
    mine = payer.api.request("GET", f"/wallets/{w}/transactions").json()["items"]
    offline = [(e["direction"], e["status"], e["amount"]) for e in mine if e["type"] == "offline"]
    assert sorted(offline) == sorted([("debit", "posted", 1_200), ("debit", "posted", 800), ("debit", "posted", 500),
                                      ("debit", "pending", 2_500)])
    theirs = payee.api.request("GET", f"/wallets/{default_wallet(payee)['wallet_id']}/transactions").json()["items"]
    assert sorted(e["amount"] for e in theirs if e["type"] == "offline" and e["direction"] == "credit") == [
        500, 800, 1_200]
    # And the payer hears of each redemption.
    heard = wait_for(lambda: len([n for n in payer.api.request("GET", "/notifications").json()["items"]
                                  if n["type"] == "offline.redeemed"]) == 3, timeout=20)
    assert heard


def test_a_cloned_device_double_spends_once_and_is_frozen(new_user, fund, tmp_path):
    payer, shop_a, shop_b = new_user(), new_user(), new_user()
    w = default_wallet(payer)["wallet_id"]
    fund(w, 10_000)
    phone = Phone(tmp_path / "phone")
    d = device(payer, phone)
    totp, recovery = enroll(payer)
    a = allow(payer, {"device_id": d["device_id"], "wallet_id": w, "amount": 3_000, "otp": totp.now()}).json()
    clone = Phone(tmp_path / "clone")  # the same key copied to another phone, with its own chain
    (clone.folder / "device.json").write_text((phone.folder / "device.json").read_text())

    first = phone.sign(a["certificate"], shop_a.user["user_id"], 1_000)
    copy = clone.sign(a["certificate"], shop_b.user["user_id"], 900)  # seq 1 again
    assert [x["status"] for x in redeem(shop_a, a["certificate"], [first]).json()["results"]] == ["credited"]
    r = redeem(shop_b, a["certificate"], [copy]).json()["results"]
    assert (r[0]["seq"], r[0]["status"], r[0]["code"]) == (1, "rejected", "double_spend")
    assert payer.api.request("GET", "/offline/devices").json()["items"][0]["status"] == "frozen"
    assert code(allow(payer, {"device_id": d["device_id"], "wallet_id": w, "amount": 100,
                              "otp": recovery[0]})) == "device_inactive"
    # What the real phone signs next still redeems: the loss is bounded by the allowance anyway.
    second = phone.sign(a["certificate"], shop_a.user["user_id"], 2_000)
    assert [x["status"] for x in redeem(shop_a, a["certificate"], [second]).json()["results"]] == ["credited"]
    third = clone.sign(a["certificate"], shop_b.user["user_id"], 100)  # seq 2 again, and nothing is left
    assert redeem(shop_b, a["certificate"], [third]).json()["results"][0]["code"] == "double_spend"
    assert (wallet(payer)["balance"], wallet(payer)["held"], wallet(payer)["available"]) == (7_000, 0, 7_000)
    assert (wallet(shop_a)["balance"], wallet(shop_b)["balance"]) == (3_000, 0)


def test_bad_input_is_refused_and_revoked_devices_get_no_allowance(new_user, fund, tmp_path):
    payer, payee = new_user(), new_user()
    w = default_wallet(payer)["wallet_id"]
    fund(w, 100_000)
    for bad in ("", "abc", "A" * 43 + "=", "x" * 200):
        r = payer.api.request("POST", "/offline/devices", {"public_key": bad, "password": PASSWORD})
        assert code(r) == "invalid_request"
    phone = Phone(tmp_path / "phone")
    d = device(payer, phone)
    totp, recovery = enroll(payer)
    body = {"device_id": d["device_id"], "wallet_id": w, "amount": 50_001, "otp": totp.now()}
    assert code(allow(payer, body)) == "limit_exceeded"  # over 500.00 in one allowance
    for field, value in (("amount", 0), ("amount", "10"), ("expires_in", 59), ("expires_in", 7 * 86400 + 1)):
        assert code(allow(payer, {**body, field: value, "otp": recovery.pop()})) == "invalid_request"
    assert code(allow(payer, {**body, "wallet_id": "wal_nope", "amount": 100, "otp": recovery.pop()})) == "not_found"
    a = allow(payer, {**body, "amount": 1_000, "otp": recovery.pop()}).json()
    v = phone.sign(a["certificate"], payee.user["user_id"], 400)

    assert payee.api.request("DELETE", f"/offline/devices/{d['device_id']}").status_code == 404  # not theirs
    assert payer.api.request("DELETE", f"/offline/devices/{d['device_id']}").status_code == 204
    assert payer.api.request("GET", "/offline/devices").json()["items"][0]["status"] == "revoked"
    assert code(allow(payer, {**body, "amount": 100, "otp": recovery.pop()})) == "device_inactive"
    # Vouchers it signed before stay redeemable until the allowance closes.
    assert redeem(payee, a["certificate"], [v]).json()["results"][0]["status"] == "credited"

    assert code(redeem(payee, a["certificate"], [])) == "invalid_request"
    assert code(payee.api.request("POST", "/offline/redeem", {"certificate": a["certificate"], "vouchers": [v]})) \
        == "idempotency_key_required"
    tampered = v[:-6] + ("AAAAAA" if not v.endswith("AAAAAA") else "BBBBBB")
    r = redeem(payee, a["certificate"], [tampered, "garbage"]).json()["results"]
    assert [(x["status"], x["code"]) for x in r] == [("rejected", "invalid_signature")] * 2
    assert wallet(payee)["balance"] == 400


@pytest.mark.timeout(200)
def test_an_expired_allowance_is_redeemable_in_grace_then_released(new_user, fund, stack, tmp_path):
    grace = int(stack["OFFLINE_GRACE_SECONDS"])
    payer, payee = new_user(), new_user()
    w = default_wallet(payer)["wallet_id"]
    fund(w, 10_000)
    phone = Phone(tmp_path / "phone")
    d = device(payer, phone)
    totp, _ = enroll(payer)
    a = allow(payer, {"device_id": d["device_id"], "wallet_id": w, "amount": 2_000, "expires_in": 60,
                      "otp": totp.now()}).json()
    me = payee.user["user_id"]
    in_time, late = phone.sign(a["certificate"], me, 700), phone.sign(a["certificate"], me, 300)

    def status() -> str:
        return str(payer.api.request("GET", f"/offline/allowances/{a['allowance_id']}").json()["status"])

    assert wait_for(lambda: status() == "expired", timeout=75, every=0.5)
    # Expired, within the grace: still redeemable.
    assert redeem(payee, a["certificate"], [in_time]).json()["results"][0]["status"] == "credited"
    # Then the scheduled release gives back what is left, once; late vouchers are refused.
    assert wait_for(lambda: status() == "closed", timeout=grace + 60, every=1)
    got = payer.api.request("GET", f"/offline/allowances/{a['allowance_id']}").json()
    assert (got["spent"], got["remaining"]) == (700, 1_300)
    assert (wallet(payer)["balance"], wallet(payer)["held"], wallet(payer)["available"]) == (9_300, 0, 9_300)
    r = redeem(payee, a["certificate"], [late]).json()["results"][0]
    assert (r["status"], r["code"]) == ("rejected", "allowance_closed")
    assert wallet(payee)["balance"] == 700
