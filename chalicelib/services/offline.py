"""Offline payments: devices, allowances (a certified hold), redemption and release.

The guarantee (domain.offline): the sum ever credited from an allowance never exceeds it. The
allowance is a ledger hold made with 2FA; each voucher is credited by one transaction of the
store, conditional on its (allowance, seq) being new and on the hold covering it; after expiry
plus grace the scheduled release voids what is left, on the condition that nothing was
redeemed since it looked (docs/offline-payments.md).
"""
from __future__ import annotations

import base64
import dataclasses
import functools
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.commands import OpenAllowance, RedeemVouchers
from chalicelib.domain.errors import InvalidRequest, NotFound
from chalicelib.domain.ids import rfc3339
from chalicelib.domain.ledger import (
    DailyLimit,
    LimitExceeded,
    Movement,
    check_idempotency_key,
    deterministic_id,
    keyed_id,
)
from chalicelib.domain.money import Money, currency_exponent
from chalicelib.domain.offline import (
    ALREADY_REDEEMED,
    CREDITED,
    DEFAULT_EXPIRES_IN,
    DEVICES_PER_USER,
    REJECTED,
    TRANSFER_TYPE,
    Allowance,
    Device,
    DeviceCheck,
    DeviceInactive,
    DoubleSpend,
    OfflinePolicy,
    Redemption,
    Refused,
    Result,
    SeqTaken,
    Voucher,
    canonical_jws,
    certificate_claims,
    device_key_ok,
    outstanding_expiry,
    outstanding_key,
    read_voucher,
    voucher_terms,
)
from chalicelib.domain.results import AllowanceView, DeviceView, RedeemView
from chalicelib.domain.unit_of_work import AllowanceClosed, NewAllowance
from chalicelib.domain.wallet import SYSTEM_OWNER
from chalicelib.services.ledger import Ledger, idempotency_record_key
from chalicelib.services.ports import FieldCipher, LedgerStore, OfflineSigner, OfflineStore, SecondFactor
from chalicelib.services.replay import Outcome

log = logging.getLogger(__name__)

OFFLINE_ACCOUNT = "offline"  # the system account an allowance's hold names until it is spent or released
RELEASE_ATTEMPTS = 5


def _claimed_seq(compact: Any) -> int | None:
    """The seq a voucher claims, read without trusting it: only to label a rejection."""
    try:
        part = str(compact).split(".")[1]
        seq = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))).get("seq")
    except (IndexError, ValueError, AttributeError, UnicodeDecodeError, RecursionError):
        return None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) and 0 < seq < 2**53 else None


@dataclass(frozen=True)
class Certified:
    """A certificate we issued, with the allowance it stands for (as stored: the authority)."""

    allowance: Allowance
    device_key: str
    hold_sk: str


@dataclass
class Offline:
    store: OfflineStore
    ledger: Ledger
    ledger_store: LedgerStore
    signer: OfflineSigner
    mfa: SecondFactor
    cipher: FieldCipher
    policy: OfflinePolicy
    issuer: str
    now: Callable[[], float] = time.time

    # -- devices --------------------------------------------------------------------------------
    def register_device(self, user_id: str, public_key: str, name: str | None) -> DeviceView:
        if not device_key_ok(public_key):
            raise InvalidRequest("The public key is not a raw Ed25519 key in base64url.", details=[
                {"field": "public_key", "message": "base64url (no padding) of the raw 32-byte Ed25519 public key"}])
        if sum(d.status == "active" for d in self.store.devices_of(user_id)) >= DEVICES_PER_USER:
            raise LimitExceeded(f"At most {DEVICES_PER_USER} active devices: revoke one first.")
        device_id = "dev_" + secrets.token_hex(16)
        device = Device(device_id=device_id, user_id=user_id, public_key=public_key, status="active",
                        created_at=rfc3339(self.now()),
                        name_ct=self.cipher.encrypt(name, device_id, "device_name") if name else None)
        self.store.add_device(device)
        return self.device_view(device)

    def devices(self, user_id: str) -> list[DeviceView]:
        return [self.device_view(d) for d in self.store.devices_of(user_id)]

    def revoke_device(self, user_id: str, device_id: str) -> None:
        """No new allowances; what it signed stays redeemable until its allowance closes. A
        frozen device stays frozen (that is the stronger fact, kept for a person)."""
        self._own_device(user_id, device_id)
        self.store.set_device_status(device_id, "revoked", ("active",))

    def device_view(self, d: Device) -> DeviceView:
        return {"device_id": d.device_id, "name": self.cipher.decrypt(d.name_ct, d.device_id, "device_name")
                if d.name_ct else None, "public_key": d.public_key, "status": d.status, "created_at": d.created_at}

    def _own_device(self, user_id: str, device_id: str) -> Device:
        d = self.store.device(device_id)
        if d is None or d.user_id != user_id:
            raise NotFound("The device was not found.")
        return d

    # -- allowances -----------------------------------------------------------------------------
    def create_allowance(self, user_id: str, idempotency_key: str | None,
                         request: OpenAllowance, otp: Any, *,
                         session_id: str | None = None) -> Outcome[AllowanceView]:
        """Hold the amount and certify it for the device, once per key. The otp is not part of
        `request`, so a retry may carry a fresh code."""
        key = check_idempotency_key(idempotency_key)
        idem_key = idempotency_record_key(user_id, "offline.allowances", key)
        req_hash = self.ledger.request_hash("offline.allowances", request.as_request())
        return self.ledger.replay_or(idem_key, req_hash, user_id,
                                     lambda: self._create(user_id, key, idem_key, req_hash, request, otp, session_id))

    def _create(self, user_id: str, key: str, idem_key: str, req_hash: str, request: OpenAllowance,
                otp: Any, session_id: str | None = None) -> Outcome[AllowanceView]:
        self.mfa.require(user_id, otp, session_id=session_id)  # wrong codes count for the login
        device = self._own_device(user_id, request.device_id)
        if device.status != "active":
            raise DeviceInactive()
        wallet = self.ledger.wallet(user_id, request.wallet_id)
        amount = Money(request.amount, wallet.currency)
        if amount > Money.of_major(self.policy.max_allowance_major, amount.currency):
            raise LimitExceeded(f"An allowance is at most {self.policy.max_allowance_major} {amount.currency}.")
        now = self.now()
        issued = int(now)
        expires_at = issued + (request.expires_in or DEFAULT_EXPIRES_IN)
        allowance = Allowance(
            allowance_id=keyed_id("al", user_id, "offline.allowances", key), user_id=user_id,
            device_id=device.device_id, wallet_id=wallet.wallet_id, amount=amount.amount, currency=amount.currency,
            spent=0, status="open", expires_at=expires_at, release_at=expires_at + self.policy.grace_seconds,
            created_at=rfc3339(now), created_ms=int(now * 1000), certificate="",
            hold_id=keyed_id("tr", user_id, "offline.allowances", key), kid=self.signer.kid)
        allowance = dataclasses.replace(allowance, certificate=self.signer.sign_certificate(
            certificate_claims(allowance, device.public_key, self.issuer, issued)))
        view = self.allowance_view(allowance, now)
        movement = Movement(allowance.hold_id, TRANSFER_TYPE, wallet.wallet_id,
                            self.ledger_store.system_shard(OFFLINE_ACCOUNT, amount.currency), amount, user_id,
                            SYSTEM_OWNER)
        outstanding = DailyLimit(key=outstanding_key(user_id, amount.currency),
                                 limit=self.policy.max_outstanding_major * 10 ** currency_exponent(amount.currency),
                                 expires_at=outstanding_expiry(issued, self.policy.grace_seconds))
        self.ledger_store.hold(movement, now=allowance.created_at, now_ms=allowance.created_ms,
                               idempotency=self.ledger.kept_answer(idem_key, req_hash, user_id, view, now,
                                                                   allowance.allowance_id),
                               daily=self.ledger.daily_limit(user_id, amount, now),
                               record=NewAllowance(allowance, outstanding, DeviceCheck(device.device_id, user_id)))
        return Outcome(view)

    def allowances(self, user_id: str, limit: int, cursor: str | None) -> tuple[list[AllowanceView], str | None]:
        items, next_cursor = self.store.allowances_of(user_id, limit, cursor)
        now = self.now()
        return [self.allowance_view(a, now) for a in items], next_cursor

    def allowance(self, user_id: str, allowance_id: str) -> AllowanceView:
        a = self.store.allowance(allowance_id)
        if a is None or a.user_id != user_id:
            raise NotFound("The allowance was not found.")
        return self.allowance_view(a, self.now())

    @staticmethod
    def allowance_view(a: Allowance, now: float) -> AllowanceView:
        return {"allowance_id": a.allowance_id, "device_id": a.device_id, "wallet_id": a.wallet_id,
                "amount": a.amount, "currency": a.currency, "spent": a.spent, "remaining": a.remaining,
                "status": a.status_at(now), "expires_at": rfc3339(a.expires_at), "certificate": a.certificate}

    # -- redemption -----------------------------------------------------------------------------
    def redeem(self, user_id: str, idempotency_key: str | None, request: RedeemVouchers) -> Outcome[RedeemView]:
        """Credit the caller's vouchers, each at most once; the call's answer is kept per key."""
        key = check_idempotency_key(idempotency_key)
        idem_key = idempotency_record_key(user_id, "offline.redeem", key)
        req_hash = self.ledger.request_hash("offline.redeem", request.as_request())
        return self.ledger.replay_or(idem_key, req_hash, user_id,
                                     lambda: self._redeem(user_id, idem_key, req_hash, request))

    def _redeem(self, user_id: str, idem_key: str, req_hash: str, request: RedeemVouchers) -> Outcome[RedeemView]:
        certified = self._certified(request.certificate)
        # Where the caller is paid: looked up (or opened) once, and only if a voucher gets that far.
        payee_wallet = functools.cache(
            lambda: self.ledger.default_wallet(user_id, certified.allowance.currency) if certified else "")
        results = [self._one(user_id, certified, compact, payee_wallet) for compact in request.vouchers]
        body: RedeemView = {"results": [r.view() for r in results]}
        now = self.now()
        resource = certified.allowance.allowance_id if certified else "none"
        # Each voucher moved its money in a transaction of its own; this keeps the call's answer,
        # so a retry of the key gets exactly these results (not "already_redeemed").
        self.ledger_store.write(None, now=rfc3339(now), idempotency=self.ledger.kept_answer(
            idem_key, req_hash, user_id, body, now, resource, status_code=200))
        return Outcome(body)

    def _certified(self, certificate: str) -> Certified | None:
        """The allowance if we issued this exact certificate. Our stored copy is the authority
        (it was signed when the money was held), so a rotated-out offline key never makes a
        live allowance unredeemable, and a forged certificate names nothing we hold."""
        claims = self.signer.claims(certificate)
        if claims is None:
            return None
        a = self.store.allowance(str(claims.get("allowance_id")))
        if a is None or a.certificate != certificate or not isinstance(claims.get("device_key"), str):
            return None
        hold = self.ledger_store.get_transfer(a.hold_id)
        if hold is None or not hold.debit_sk:
            return None
        return Certified(a, str(claims["device_key"]), hold.debit_sk)

    def _one(self, user_id: str, certified: Certified | None, compact: str, payee_wallet: Callable[[], str]) -> Result:
        payload = self.signer.voucher(compact, certified.device_key) if certified and canonical_jws(compact) else None
        v = read_voucher(compact, payload) if payload is not None else None
        if certified is None or v is None:
            return Result(_claimed_seq(compact), REJECTED, "invalid_signature")
        a = certified.allowance
        code = voucher_terms(a, v, user_id)
        if code:
            return Result(v.seq, REJECTED, code)
        wallet = payee_wallet()
        if wallet == a.wallet_id:  # the owner paying the very wallet the money is held from
            return Result(v.seq, REJECTED, "wrong_payee")
        now = self.now()
        transfer_id = deterministic_id("tr", "offline", a.allowance_id, str(v.seq))
        try:
            self.store.redeem(a, v, certified.hold_sk, (wallet, user_id), transfer_id=transfer_id,
                              now=rfc3339(now), now_ms=int(now * 1000))
        except SeqTaken as taken:
            if taken.first.voucher_hash == v.digest:
                return Result(v.seq, ALREADY_REDEEMED, transfer_id=taken.first.transfer_id)
            self._double_spend(a, taken.first, v, user_id, now)
            return Result(v.seq, REJECTED, "double_spend")
        except Refused as refused:
            return Result(v.seq, REJECTED, refused.code)
        return Result(v.seq, CREDITED, transfer_id=transfer_id)

    def _double_spend(self, a: Allowance, first: Redemption, second: Voucher, presented_by: str, now: float) -> None:
        """Two vouchers for one seq: only a copied key (or a tampered device) signs both."""
        from chalicelib import observability

        evidence = DoubleSpend(evidence_id=deterministic_id("ds", a.allowance_id, str(second.seq), second.digest),
                               allowance_id=a.allowance_id, seq=second.seq, device_id=a.device_id, owner_id=a.user_id,
                               first_voucher=first.voucher, second_voucher=second.compact, presented_by=presented_by,
                               created_at=rfc3339(now))
        self.store.report_double_spend(evidence)
        observability.count("OfflineDoubleSpend")
        log.warning("offline double spend: %s", json.dumps({"evidence_id": evidence.evidence_id,
                                                            "allowance_id": a.allowance_id, "seq": second.seq,
                                                            "device_id": a.device_id}))


@dataclass
class AllowanceRelease:
    """The scheduled job: allowances past expiry + grace give back what is left. Apart from the
    API's service, so the job holds no key (it signs and decrypts nothing)."""

    store: OfflineStore
    ledger_store: LedgerStore
    now: Callable[[], float] = time.time

    def release_due(self) -> int:
        """Close every allowance past expiry + grace: its remainder goes back to the wallet."""
        from chalicelib import observability

        now, released = int(self.now()), 0
        for a in self.store.releasable(now):
            try:
                released += self._release(a, now)
            except Exception:  # one busy wallet must not hold back the others
                observability.count("OfflineReleaseFailed")
                log.exception("release of allowance %s failed; retried on the next run", a.allowance_id)
        return released

    def _release(self, a: Allowance | None, now: int) -> bool:
        for _ in range(RELEASE_ATTEMPTS):
            if a is None or a.status == "closed":
                return False
            hold = self.ledger_store.get_transfer(a.hold_id)
            if hold is None:
                return False
            # The void is of what the allowance says is left, on the condition (AllowanceClosed)
            # that `spent` is still what was read: a redemption in between fails it, and we look again.
            closed = AllowanceClosed(a.allowance_id, a.spent, now, outstanding_key(a.user_id, a.currency), a.remaining)
            if self.ledger_store.resolve_hold(dataclasses.replace(hold, amount=a.remaining), post=False,
                                              now=rfc3339(now), now_ms=now * 1000, record=closed):
                return True
            a = self.store.allowance(a.allowance_id)
        return False
