"""Offline payments on DynamoDB Local: the sum credited from an allowance never exceeds it, each
(allowance, seq) is credited at most once, a double spend freezes the device, and the release
gives back exactly what was not spent, whatever runs concurrently."""
from __future__ import annotations

import dataclasses
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.domain.commands import OpenAllowance, RedeemVouchers
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.services.reconcile import reconcile
from offline_wallet import jws, keys
from offline_wallet.payer import VOUCHER_TYP, Chain, sign_voucher, voucher_hash
from tests.integration.test_ledger_dynamodb import fund, person


class Passed:
    """The second factor is proven in the e2e journey (a real TOTP code); here, redemption."""

    def require(self, user_id: str, otp: Any, **_where: Any) -> None:
        return None


def offline(c, now=None):
    service = dataclasses.replace(c.offline, mfa=Passed())
    return dataclasses.replace(service, now=now) if now else service


def allowance(c, service, owner: str, wallet: str, amount: int, **extra) -> tuple[dict, Any]:
    device_key = keys.new_device_key()
    device = service.register_device(owner, keys.public_text(device_key), "phone")
    a = service.create_allowance(owner, uuid.uuid4().hex, OpenAllowance(device["device_id"], wallet, amount, **extra),
                                 otp=None).body
    return a, device_key


def payer_and_payee(c, funds: int) -> tuple[str, str, str, Any]:
    """(payer, the payer's funded wallet, a payee, the service)."""
    owner, _, wallet = person(c)
    fund(c.ledger, wallet, funds)
    return owner, wallet, person(c)[0], offline(c)


def assert_reconciled(c) -> None:
    report = reconcile(c.ledger_store, offline=c.offline_store)
    assert report.ok, report.drift[:5]


def forged(chain: Chain, key, payee: str, seq: int, amount: int) -> str:
    """A cheating device: any seq, any amount, lying about the cumulative (within the allowance)."""
    a = chain.allowance
    payload = {"allowance_id": a["allowance_id"], "seq": seq, "prev": "x", "amount": amount, "cumulative": amount,
               "currency": a["currency"], "payee": payee, "iat": int(time.time())}
    return jws.sign({"alg": "EdDSA", "typ": VOUCHER_TYP}, payload, key)


def redeem(service, payee: str, certificate: str, vouchers: list[str]) -> list[dict]:
    for _ in range(20):  # a busy ledger answers 503: a client retries with the same key
        key = uuid.uuid4().hex
        try:
            return service.redeem(payee, key, RedeemVouchers(certificate, tuple(vouchers))).body["results"]
        except ServiceUnavailable:
            time.sleep(random.uniform(0.01, 0.1))
    raise AssertionError("the ledger stayed busy")


def test_sixteen_redeemers_never_credit_more_than_the_allowance(stack_container):
    c = stack_container
    service = offline(c)
    owner, _, wallet = person(c)
    fund(c.ledger, wallet, 50_000)
    payees = [person(c)[0] for _ in range(3)]
    a, key = allowance(c, service, owner, wallet, 10_000)
    cert = a["certificate"]

    # The honest chain pays payee 0 and 1; a clone of the device (same key, same certificate)
    # signs its own chain from seq 1 to payee 2; a cheating build signs seqs 9..20 of 1,500 each.
    honest, clone = Chain(cert), Chain(cert)
    vouchers: dict[str, list[str]] = {p: [] for p in payees}
    for i in range(8):
        vouchers[payees[i % 2]].append(sign_voucher(honest, key, payees[i % 2], 400 + 10 * i))
    for i in range(6):
        vouchers[payees[2]].append(sign_voucher(clone, key, payees[2], 700 + i))
    for seq in range(9, 21):
        vouchers[payees[seq % 3]].append(forged(honest, key, payees[seq % 3], seq, 1500))
    everything = [v for vs in vouchers.values() for v in vs]

    def redeemer(i: int) -> tuple[str, list[str], list[dict]]:
        payee = payees[i % 3]
        mine = vouchers[payee]
        picked = random.sample(mine, k=random.randint(1, len(mine)))  # overlapping with other redeemers
        picked += random.sample(mine, k=2)  # replays within one call
        picked += random.sample(everything, k=2)  # someone else's: wrong_payee, or mine again
        random.shuffle(picked)
        return payee, picked, redeem(service, payee, cert, picked)

    with ThreadPoolExecutor(16) as pool:
        calls = list(pool.map(redeemer, range(48)))

    credited: Counter[tuple[str, int]] = Counter()
    first_transfer: dict[int, str] = {}
    for payee, picked, results in calls:
        assert [r["seq"] for r in results] == [jws.read(v).payload["seq"] for v in picked]  # in the order given
        for voucher, r in zip(picked, results, strict=True):
            p = jws.read(voucher).payload
            if p["payee"] != payee:
                assert (r["status"], r["code"]) == ("rejected", "wrong_payee")
            if r["status"] == "credited":
                credited[(voucher_hash(voucher), r["seq"])] += 1
            if r["status"] in ("credited", "already_redeemed"):
                # The same (allowance, seq) is always the same transfer, whoever asks.
                assert first_transfer.setdefault(r["seq"], r["transfer_id"]) == r["transfer_id"]
            else:
                assert r["code"] in ("wrong_payee", "double_spend", "over_allowance"), r
    assert all(n == 1 for n in credited.values())  # each voucher credited once...
    seqs = Counter(seq for _, seq in credited)
    assert all(n == 1 for n in seqs.values())  # ...and each seq at most once, clones or not

    stored = c.offline_store.allowance(a["allowance_id"])
    redemptions = [r for r in c.offline_store.scan_redemptions() if r.allowance_id == a["allowance_id"]]
    received = sum(c.ledger.wallet(p, c.ledger.default_wallet(p, "USD")).balance for p in payees)
    assert received == stored.spent == sum(r.amount for r in redemptions) <= 10_000
    assert len(redemptions) == len(seqs)
    assert stored.spent > 10_000 - 1500  # the cheats were cut off by the hold, not by luck
    w = c.ledger.wallet(owner, wallet)
    assert (w.balance, w.held, w.available) == (50_000 - stored.spent, 10_000 - stored.spent, 40_000)
    # The clone's seq 1..6 collided with the honest chain: a double spend, the device frozen, evidence kept.
    assert c.offline_store.device(stored.device_id).status == "frozen"
    evidence = c.offline_store.double_spends(a["allowance_id"])
    assert evidence and all(e.first_voucher != e.second_voucher for e in evidence)
    assert_reconciled(c)


def test_the_release_and_late_redemptions_give_each_unit_of_money_one_outcome(stack_container):
    c = stack_container
    owner, wallet, payee, service = payer_and_payee(c, 20_000)
    allowances = [allowance(c, service, owner, wallet, 2_000, expires_in=60) for _ in range(4)]
    chains = [(a, key, Chain(a["certificate"])) for a, key in allowances]
    vouchers = {a["allowance_id"]: [sign_voucher(chain, key, payee, 300) for _ in range(6)]
                for a, key, chain in chains}  # 1,800 of each 2,000 signed
    for a, _, _ in chains[:2]:  # some redeemed in time
        redeem(service, payee, a["certificate"], vouchers[a["allowance_id"]][:2])

    later = time.time() + 60 + c.settings.offline_grace_seconds + 1
    releaser = dataclasses.replace(c.allowance_release, now=lambda: later)
    go = threading.Event()

    def late_redeemer(a: dict) -> list[dict]:
        go.wait()
        return redeem(service, payee, a["certificate"], vouchers[a["allowance_id"]])

    with ThreadPoolExecutor(8) as pool:
        racing = [pool.submit(late_redeemer, a) for a, _, _ in chains]
        releases = [pool.submit(lambda: (go.wait(), releaser.release_due())[1]) for _ in range(3)]
        go.set()
        results = [f.result() for f in racing]
        released_counts = [f.result() for f in releases]
    # A release that lost each of its attempts to a redemption is finished by a later run (the
    # job runs every few minutes); after that there is nothing left, and no allowance was closed twice.
    later_runs = [releaser.release_due() for _ in range(3)]
    assert later_runs[-1] == 0
    assert sum(released_counts) + sum(later_runs) <= 4

    total_spent = 0
    for (a, _, _), rs in zip(chains, results, strict=True):
        stored = c.offline_store.allowance(a["allowance_id"])
        assert stored.status == "closed"
        assert {r["status"] for r in rs} <= {"credited", "already_redeemed", "rejected"}
        assert all(r.get("code") in (None, "allowance_closed") for r in rs)
        total_spent += stored.spent
        # What was credited after the race is exactly what the allowance counts as spent.
        redeemed = sum(r.amount for r in c.offline_store.scan_redemptions() if r.allowance_id == a["allowance_id"])
        assert redeemed == stored.spent
    w = c.ledger.wallet(owner, wallet)
    assert (w.balance, w.held, w.available) == (20_000 - total_spent, 0, 20_000 - total_spent)
    assert c.ledger.wallet(payee, c.ledger.default_wallet(payee, "USD")).balance == total_spent
    # Too late now, for anyone.
    a = chains[0][0]
    late = redeem(service, payee, a["certificate"], [vouchers[a["allowance_id"]][-1]])
    assert late[0]["status"] in ("already_redeemed", "rejected")
    assert late[0]["status"] == "already_redeemed" or late[0]["code"] == "allowance_closed"
    assert_reconciled(c)


def test_a_replayed_call_returns_its_first_answer_and_bad_certificates_credit_nothing(stack_container):
    c = stack_container
    owner, wallet, payee, service = payer_and_payee(c, 5_000)
    a, key = allowance(c, service, owner, wallet, 1_000)
    chain = Chain(a["certificate"])
    v = [sign_voucher(chain, key, payee, 100) for _ in range(2)]
    body = RedeemVouchers(a["certificate"], tuple(v))
    first = service.redeem(payee, "k1", body)
    again = service.redeem(payee, "k1", body)
    assert again.replayed and again.body == first.body
    assert [r["status"] for r in first.body["results"]] == ["credited", "credited"]
    other = service.redeem(payee, "k2", body).body["results"]
    assert [(r["status"], r["transfer_id"]) for r in other] == [
        ("already_redeemed", r["transfer_id"]) for r in first.body["results"]]

    # A certificate we did not issue (another key), or ours with a different amount: nothing.
    fake_server = keys.new_device_key()
    claims = {**jws.read(a["certificate"]).payload, "amount": 100_000}
    header = jws.read(a["certificate"]).header
    for cert in (jws.sign(header, claims, fake_server), "not-a-jws", a["certificate"][:-4] + "AAAA"):
        results = service.redeem(payee, uuid.uuid4().hex, RedeemVouchers(cert, tuple(v[:1]))).body["results"]
        assert results == [{"seq": 1, "status": "rejected", "code": "invalid_signature"}]
    assert c.offline_store.allowance(a["allowance_id"]).spent == 200


@pytest.mark.parametrize("amount", [50_001, 100_000])
def test_limits_hold_per_allowance_and_per_user(stack_container, amount):
    from chalicelib.domain.ledger import LimitExceeded

    c = stack_container
    owner, _, wallet = person(c)
    fund(c.ledger, wallet, 200_000)
    service = offline(c)
    with pytest.raises(LimitExceeded):
        allowance(c, service, owner, wallet, amount)  # over 500.00 in one allowance
    allowance(c, service, owner, wallet, 50_000)
    allowance(c, service, owner, wallet, 50_000)
    with pytest.raises(LimitExceeded):  # 1,000.00 outstanding already
        allowance(c, service, owner, wallet, 100)
    assert c.ledger.wallet(owner, wallet).held == 100_000


def test_another_spelling_of_a_redeemed_voucher_is_not_a_double_spend(stack_container):
    # A payee re-presenting its own voucher with padding (which PyJWT would verify) must not be
    # able to freeze the payer's device or plant evidence.
    c = stack_container
    owner, wallet, payee, service = payer_and_payee(c, 5_000)
    a, key = allowance(c, service, owner, wallet, 1_000)
    v = sign_voucher(Chain(a["certificate"]), key, payee, 100)
    assert redeem(service, payee, a["certificate"], [v])[0]["status"] == "credited"
    deep = "e30." + jws.b64url(b"[" * 2000) + ".x"  # parsing it must not exhaust the stack
    results = redeem(service, payee, a["certificate"], [v + "==", v + "=", deep])
    assert [(r["status"], r.get("code")) for r in results] == [("rejected", "invalid_signature")] * 3
    assert results[2]["seq"] is None
    stored = c.offline_store.allowance(a["allowance_id"])
    assert c.offline_store.device(stored.device_id).status == "active"
    assert c.offline_store.double_spends(a["allowance_id"]) == []


def test_after_expiry_and_grace_nothing_is_credited_even_before_the_release_runs(stack_container):
    c = stack_container
    owner, wallet, payee, service = payer_and_payee(c, 5_000)
    a, key = allowance(c, service, owner, wallet, 1_000, expires_in=60)
    v = sign_voucher(Chain(a["certificate"]), key, payee, 100)
    stored = c.offline_store.allowance(a["allowance_id"])
    late = offline(c, now=lambda: stored.release_at + 1)
    assert redeem(late, payee, a["certificate"], [v])[0]["code"] == "allowance_closed"
    assert c.offline_store.allowance(a["allowance_id"]).status == "open"  # the job has not run: still held
    assert c.ledger.wallet(owner, wallet).held == 1_000


def test_a_device_frozen_while_its_allowance_is_made_gets_none(stack_container):
    from chalicelib.domain.offline import DeviceInactive

    c = stack_container
    owner, wallet, _, service = payer_and_payee(c, 5_000)
    device = service.register_device(owner, keys.public_text(keys.new_device_key()), None)
    before = c.offline_store.device(device["device_id"])
    c.offline_store.set_device_status(device["device_id"], "frozen", ("active",))

    class Stale:  # what the service read just before the freeze landed
        def __getattr__(self, name):
            return getattr(c.offline_store, name)

        def device(self, device_id):
            return before

    racing = dataclasses.replace(service, store=Stale())
    with pytest.raises(DeviceInactive):
        racing.create_allowance(owner, uuid.uuid4().hex, OpenAllowance(device["device_id"], wallet, 100), otp=None)
    w = c.ledger.wallet(owner, wallet)
    assert (w.held, w.available) == (0, 5_000)


def test_allowances_page_newest_first_and_forged_cursors_are_refused(stack_container):
    from chalicelib.domain.errors import InvalidRequest

    c = stack_container
    owner, wallet, _, service = payer_and_payee(c, 5_000)
    made = [allowance(c, service, owner, wallet, 100)[0]["allowance_id"] for _ in range(3)]
    seen, cursor = [], None
    while True:
        items, cursor = service.allowances(owner, 2, cursor)
        seen += [a["allowance_id"] for a in items]
        if cursor is None:
            break
    assert seen == made[::-1]
    for forged_cursor in ("null", "e30", "eyJzayI6ICJ4In0"):
        with pytest.raises(InvalidRequest):
            service.allowances(owner, 2, forged_cursor)
