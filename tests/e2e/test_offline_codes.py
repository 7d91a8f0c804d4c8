"""Offline payments by QR text, end to end: a receive code, a payment code the command-line phone
prints, checked offline by the payee's phone from the code alone, and redeemed by the code over
HTTP, exactly once (API.md, "Offline payments in the web wallet")."""
from __future__ import annotations

import json
import uuid

from chalicelib.domain.offline_codes import PAYMENT_PREFIX, QR_BUDGET
from tests.e2e.test_ledger import code, default_wallet
from tests.e2e.test_offline import Phone, allow, device, enroll, wallet


def redeem_code(user, payment_code: str, key: str | None = None):
    return user.api.request("POST", "/offline/redeem", {"payment_code": payment_code},
                            headers={"Idempotency-Key": key or uuid.uuid4().hex})


def test_a_payment_code_travels_as_one_qr_code_and_is_redeemed_once(api, new_user, fund, tmp_path):
    payer, payee = new_user(), new_user()
    w = default_wallet(payer)["wallet_id"]
    fund(w, 10_000)
    payer_phone, payee_phone = Phone(tmp_path / "payer"), Phone(tmp_path / "payee")
    (payee_phone.folder / "offline-keys.json").write_text(api.request("GET", "/.well-known/offline-keys.json").text)
    d = device(payer, payer_phone)
    totp, _ = enroll(payer)
    r = allow(payer, {"device_id": d["device_id"], "wallet_id": w, "amount": 3_000, "otp": totp.now()})
    assert r.status_code == 201, r.text
    certificate = r.json()["certificate"]

    # The payee's screen shows a receive code; the payer's phone scans it and shows a payment code.
    me = payee.user["user_id"]
    asked = payee_phone.run("receive", "--me", me, "--amount", "750", "--currency", "USD")
    assert asked.returncode == 0 and asked.stdout.strip() == f"EWR1:{me}:750:USD"
    signed = payer_phone.run("sign", "--key", str(payer_phone.folder / "device.json"), "--certificate", certificate,
                             "--receive-code", asked.stdout.strip(), "--chain", str(payer_phone.folder / "chain.json"),
                             "--payment-code")
    assert signed.returncode == 0, signed.stderr
    payment_code = signed.stdout.strip()
    assert payment_code.startswith(PAYMENT_PREFIX) and len(payment_code.encode()) <= QR_BUDGET
    print(f"payment code with one voucher and a real certificate: {len(payment_code)} bytes")

    # The payee's phone checks it with no network, from the code alone.
    verify = ("verify", "--payment-code", payment_code, "--keys", str(payee_phone.folder / "offline-keys.json"),
              "--me", me, "--seen", str(payee_phone.folder / "seen.json"))
    out = payee_phone.run(*verify)
    assert out.returncode == 0 and json.loads(out.stdout) == {"accepted": True, "code": None, "seq": 1, "amount": 750}
    out = payee_phone.run("verify", "--payment-code", payment_code, "--keys",
                          str(payee_phone.folder / "offline-keys.json"), "--me", payer.user["user_id"])
    assert out.returncode == 1 and json.loads(out.stdout)["code"] == "wrong_payee"  # a code for someone else

    # Back online: redeemed by the code; a copy of the code (or its tokens) is never credited twice.
    key = uuid.uuid4().hex
    r = redeem_code(payee, payment_code, key)
    assert r.status_code == 200, r.text
    [first] = r.json()["results"]
    assert (first["seq"], first["status"]) == (1, "credited")
    replay = redeem_code(payee, payment_code, key)
    assert replay.json() == r.json() and replay.headers["Idempotent-Replayed"] == "true"
    [again] = redeem_code(payee, payment_code).json()["results"]
    assert (again["status"], again["transfer_id"]) == ("already_redeemed", first["transfer_id"])
    voucher = payer_phone.run("sign", "--key", str(payer_phone.folder / "device.json"), "--certificate",
                              certificate, "--payee", me, "--amount", "1", "--chain",
                              str(payer_phone.folder / "chain.json"))
    assert voucher.returncode == 0
    [other] = redeem_code(payer, payment_code).json()["results"]
    assert (other["status"], other["code"]) == ("rejected", "wrong_payee")
    assert wallet(payee)["balance"] == 750
    assert (wallet(payer)["balance"], wallet(payer)["held"]) == (9_250, 2_250)

    # A broken code is the caller's mistake (400), never the server's.
    for broken in (payment_code[:-6], payment_code + "=", "EWP1:" + "A" * 5000, PAYMENT_PREFIX):
        assert code(redeem_code(payee, broken)) == "invalid_request"
    r = payee.api.request("POST", "/offline/redeem", {"payment_code": payment_code, "certificate": certificate},
                          headers={"Idempotency-Key": uuid.uuid4().hex})
    assert code(r) == "invalid_request"
