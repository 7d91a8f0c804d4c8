"""Devices, allowances and redemptions on DynamoDB.

A redemption is ONE TransactWriteItems: the ledger's partial posting of a hold
(`DynamoLedger.post_part_of_hold`: the payer's held money spent, the hold lowered to what is
left, the payee credited, the transfer and its legs) with this module's companions. The record
(allowance_id, seq) is put `attribute_not_exists`; the allowance's `spent` is raised on the
condition `status = open AND spent <= amount - :a` (DynamoDB conditions have no arithmetic on
both sides: `spent + :a <= amount` is written with the room computed from the amount, which the
condition also pins); the owner's outstanding total is lowered. Whatever runs concurrently, each
seq is credited once and `spent` never passes `amount`.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from chalicelib.adapters.dynamodb import cursors
from chalicelib.adapters.dynamodb.ledger import DynamoLedger, _n, _s
from chalicelib.adapters.dynamodb.models import (
    AllowanceRecord,
    DoubleSpendRecord,
    OfflineDeviceRecord,
    RedemptionRecord,
    written,
)
from chalicelib.domain.ledger import Movement
from chalicelib.domain.money import Money
from chalicelib.domain.offline import (
    TRANSFER_TYPE,
    Allowance,
    Device,
    DoubleSpend,
    Redemption,
    Refused,
    SeqTaken,
    Voucher,
    outstanding_key,
)


def _device(r: OfflineDeviceRecord) -> Device:
    return Device(device_id=r.device_id, user_id=r.user_id, public_key=r.public_key, status=r.status,
                  created_at=r.created_at, name_ct=r.name_ct)


def _allowance(r: AllowanceRecord) -> Allowance:
    return Allowance(allowance_id=r.allowance_id, user_id=r.user_id, device_id=r.device_id, wallet_id=r.wallet_id,
                     amount=int(r.amount), currency=r.currency, spent=int(r.spent), status=r.status,
                     expires_at=int(r.expires_at), release_at=int(r.release_at), created_at=r.created_at,
                     created_ms=int(r.created_sk.split("#", 1)[0]), certificate=r.certificate, hold_id=r.hold_id,
                     kid=r.kid)


def _redemption(r: RedemptionRecord) -> Redemption:
    return Redemption(allowance_id=r.allowance_id, seq=int(r.seq), voucher_hash=r.voucher_hash, voucher=r.voucher,
                      payee_id=r.payee_id, transfer_id=r.transfer_id, amount=int(r.amount), created_at=r.created_at)


def _redemption_image(item: dict[str, Any] | None) -> Redemption | None:
    """The record as a failed condition saw it (ALL_OLD), if the store sent it back."""
    return _redemption(RedemptionRecord.from_raw_data(item)) if item and "voucher_hash" in item else None


_CURSOR = re.compile(r"[0-9]{13}#al_[0-9a-f]{32}")  # what the ledger writes as `created_sk`


class DynamoOffline:
    def __init__(self, ledger: DynamoLedger) -> None:
        self._ledger = ledger
        self._t = ledger.t

    # -- devices --------------------------------------------------------------------------------
    def add_device(self, device: Device) -> None:
        OfflineDeviceRecord(device.device_id, user_id=device.user_id, public_key=device.public_key,
                            name_ct=device.name_ct, status=device.status, created_at=device.created_at).save(
            condition=OfflineDeviceRecord.device_id.does_not_exist())

    def device(self, device_id: str) -> Device | None:
        r = OfflineDeviceRecord.find(device_id)
        return _device(r) if r else None

    def devices_of(self, user_id: str) -> list[Device]:
        return [_device(r) for r in OfflineDeviceRecord.by_user.query(user_id, scan_index_forward=False)]

    def set_device_status(self, device_id: str, status: str, only_from: tuple[str, ...]) -> bool:
        return written(lambda: OfflineDeviceRecord(device_id).update(
            actions=[OfflineDeviceRecord.status.set(status)], condition=OfflineDeviceRecord.status.is_in(*only_from)))

    # -- allowances -----------------------------------------------------------------------------
    def allowance(self, allowance_id: str) -> Allowance | None:
        r = AllowanceRecord.find(allowance_id)
        return _allowance(r) if r else None

    def allowances_of(self, user_id: str, limit: int, cursor: str | None) -> tuple[list[Allowance], str | None]:
        kwargs: dict[str, Any] = {"scan_index_forward": False, "limit": limit + 1}
        if cursor:
            kwargs["range_key_condition"] = AllowanceRecord.created_sk < cursors.decode(cursor, _CURSOR)
        rows = list(AllowanceRecord.by_user.query(user_id, **kwargs))
        page = rows[:limit]
        # The index is eventually consistent: the page is read again (one batch), so spent and
        # status are current.
        current = {r.allowance_id: r for r in AllowanceRecord.batch_get([r.allowance_id for r in page],
                                                                         consistent_read=True)}
        items = [_allowance(current.get(r.allowance_id, r)) for r in page]
        return items, (cursors.encode(page[-1].created_sk) if len(rows) > limit else None)

    def releasable(self, now: int) -> Iterator[Allowance]:
        for r in AllowanceRecord.to_release.query("open", AllowanceRecord.release_at <= now):
            yield _allowance(r)

    def scan_allowances(self) -> Iterator[Allowance]:
        for r in AllowanceRecord.scan(consistent_read=True):
            yield _allowance(r)

    # -- redemptions ----------------------------------------------------------------------------
    def redemption(self, allowance_id: str, seq: int) -> Redemption | None:
        r = RedemptionRecord.find(allowance_id, seq)
        return _redemption(r) if r else None

    def outstanding_totals(self) -> dict[str, int]:
        """Every user's outstanding counter (key -> total), for reconciliation."""
        from chalicelib.adapters.dynamodb.models import DailyTotalRecord

        return {r.key: int(r.total) for r in DailyTotalRecord.scan(DailyTotalRecord.key.startswith("offline#"),
                                                                   consistent_read=True)}

    def scan_redemptions(self) -> Iterator[Redemption]:
        for r in RedemptionRecord.scan(consistent_read=True):
            yield _redemption(r)

    def redeem(self, allowance: Allowance, voucher: Voucher, hold_sk: str, payee: tuple[str, str], *,
               transfer_id: str, now: str, now_ms: int) -> None:
        a = voucher.amount
        m = Movement(transfer_id, TRANSFER_TYPE, allowance.wallet_id, payee[0], Money(a, allowance.currency),
                     allowance.user_id, payee[1])
        companions = [
            ("redemption", {"Put": {"TableName": self._t[RedemptionRecord], "Item": {
                "allowance_id": _s(allowance.allowance_id), "seq": _n(voucher.seq),
                "voucher_hash": _s(voucher.digest), "voucher": _s(voucher.compact), "payee_id": _s(payee[1]),
                "transfer_id": _s(transfer_id), "amount": _n(a), "created_at": _s(now)},
                "ConditionExpression": "attribute_not_exists(allowance_id)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}),
            ("allowance", {"Update": {
                "TableName": self._t[AllowanceRecord], "Key": {"allowance_id": _s(allowance.allowance_id)},
                "UpdateExpression": "SET spent = spent + :a",
                # Redeemable until the release time, even if the release job runs late.
                "ConditionExpression": "#st = :open AND amount = :amount AND spent <= :room AND release_at > :t",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD", "ExpressionAttributeNames": {"#st": "status"},
                "ExpressionAttributeValues": {":a": _n(a), ":open": _s("open"), ":amount": _n(allowance.amount),
                                              ":room": _n(allowance.amount - a), ":t": _n(now_ms // 1000)}}}),
            ("counter", self._ledger.counter_update(outstanding_key(allowance.user_id, allowance.currency), -a)),
        ]
        self._ledger.post_part_of_hold(m, (allowance.hold_id, hold_sk), now=now, now_ms=now_ms, companions=companions,
                                       explain=lambda olds: self._explain(allowance, voucher.seq, olds, now_ms // 1000))

    def _explain(self, allowance: Allowance, seq: int, olds: dict[str, Any], at: int) -> None:
        """Why a redemption's transaction failed, in the order that answers a replay first."""
        if "redemption" in olds:
            # The image the failed condition saw; read again only if the emulator left it out.
            first = _redemption_image(olds["redemption"]) or self.redemption(allowance.allowance_id, seq)
            if first is not None:
                raise SeqTaken(first)
        if "allowance" in olds:
            now = self.allowance(allowance.allowance_id)
            closed = now is None or now.status == "closed" or now.release_at <= at
            raise Refused("allowance_closed" if closed else "over_allowance")
        if "hold" in olds:  # the hold was voided (released) between the read and this write
            raise Refused("allowance_closed")
        if "credit" in olds:
            raise Refused("recipient_not_found")

    def report_double_spend(self, evidence: DoubleSpend) -> None:
        e = evidence
        record = DoubleSpendRecord(e.evidence_id, allowance_id=e.allowance_id, seq=e.seq, device_id=e.device_id,
                                   owner_id=e.owner_id, first_voucher=e.first_voucher,
                                   second_voucher=e.second_voucher, presented_by=e.presented_by,
                                   created_at=e.created_at)
        # False: kept already (the same double spend presented again).
        written(lambda: record.save(condition=DoubleSpendRecord.evidence_id.does_not_exist()))
        self.set_device_status(e.device_id, "frozen", ("active", "revoked", "frozen"))

    def double_spends(self, allowance_id: str) -> list[DoubleSpend]:
        """The evidence kept for an allowance (for a person, and the tests)."""
        return [DoubleSpend(r.evidence_id, r.allowance_id, int(r.seq), r.device_id, r.owner_id, r.first_voucher,
                            r.second_voucher, r.presented_by, r.created_at)
                for r in DoubleSpendRecord.scan(DoubleSpendRecord.allowance_id == allowance_id, consistent_read=True)]
