"""An in-memory offline store (devices, allowances, redemptions) on the fakes' shared book.

It keeps the DynamoDB adapter's transaction (adapters/dynamodb/offline.py): a redemption checks
every condition first (the (allowance, seq) record is new, the allowance is open, due after now,
and has room; the hold is pending and covers the amount; the payee's wallet takes the currency),
then writes everything or nothing, and a failure is explained in the adapter's order (the seq
taken before the allowance's reasons, before the hold's, before the payee's).
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace

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
from chalicelib.domain.wallet import Entry, Transfer
from tests.fakes_money import FakeBook


class FakeOfflineStore:
    def __init__(self, book: FakeBook) -> None:
        self.b = book
        self._seq = itertools.count(1)

    # -- devices --------------------------------------------------------------------------------
    def add_device(self, device: Device) -> None:
        assert device.device_id not in self.b.devices
        self.b.devices[device.device_id] = device

    def device(self, device_id: str) -> Device | None:
        return self.b.devices.get(device_id)

    def devices_of(self, user_id: str) -> list[Device]:
        return sorted((d for d in self.b.devices.values() if d.user_id == user_id), key=lambda d: d.created_at,
                      reverse=True)

    def set_device_status(self, device_id: str, status: str, only_from: tuple[str, ...]) -> bool:
        d = self.b.devices.get(device_id)
        if d is None or d.status not in only_from:
            return False
        self.b.devices[device_id] = replace(d, status=status)
        return True

    # -- allowances -----------------------------------------------------------------------------
    def allowance(self, allowance_id: str) -> Allowance | None:
        return self.b.allowances.get(allowance_id)

    def allowances_of(self, user_id: str, limit: int, cursor: str | None) -> tuple[list[Allowance], str | None]:
        mine = sorted((a for a in self.b.allowances.values() if a.user_id == user_id), key=lambda a: a.created_ms,
                      reverse=True)
        return mine[:limit], None

    def releasable(self, now: int) -> Iterator[Allowance]:
        yield from [a for a in self.b.allowances.values() if a.status == "open" and a.release_at <= now]

    def scan_allowances(self) -> Iterator[Allowance]:
        yield from list(self.b.allowances.values())

    def outstanding_totals(self) -> dict[str, int]:
        return {k: v for k, v in self.b.daily.items() if k.startswith("offline#")}

    # -- redemptions ----------------------------------------------------------------------------
    def redemption(self, allowance_id: str, seq: int) -> Redemption | None:
        return self.b.redemptions.get((allowance_id, seq))

    def scan_redemptions(self) -> Iterator[Redemption]:
        yield from list(self.b.redemptions.values())

    def redeem(self, allowance: Allowance, voucher: Voucher, hold_sk: str, payee: tuple[str, str], *,
               transfer_id: str, now: str, now_ms: int) -> None:
        a, b = voucher.amount, self.b
        first = b.redemptions.get((allowance.allowance_id, voucher.seq))
        if first is not None:
            raise SeqTaken(first)
        stored = b.allowances.get(allowance.allowance_id)
        if (stored is None or stored.status != "open" or stored.amount != allowance.amount
                or stored.spent > allowance.amount - a or stored.release_at <= now_ms // 1000):
            closed = stored is None or stored.status == "closed" or stored.release_at <= now_ms // 1000
            raise Refused("allowance_closed" if closed else "over_allowance")
        hold = b.transfers.get(allowance.hold_id)
        payer = b.wallets[allowance.wallet_id]
        if hold is None or hold.status != "pending" or hold.amount < a or payer.held < a:
            raise Refused("allowance_closed")
        dst = b.wallets.get(payee[0])
        if dst is None or dst.status != "active" or dst.currency != allowance.currency:
            raise Refused("recipient_not_found")
        # Every condition held: the whole transaction is written.
        b.redemptions[(allowance.allowance_id, voucher.seq)] = Redemption(
            allowance.allowance_id, voucher.seq, voucher.digest, voucher.compact, payee[1], transfer_id, a, now)
        b.allowances[allowance.allowance_id] = replace(stored, spent=stored.spent + a)
        key = outstanding_key(allowance.user_id, allowance.currency)
        b.daily[key] = b.daily.get(key, 0) - a
        b.wallets[payer.wallet_id] = replace(payer, held=payer.held - a, balance=payer.balance - a)
        b.transfers[hold.transfer_id] = replace(hold, amount=hold.amount - a)
        b.entries = [replace(e, amount=e.amount - a) if e.wallet_id == payer.wallet_id and e.sk == hold_sk else e
                     for e in b.entries]
        b.wallets[dst.wallet_id] = replace(dst, balance=dst.balance + a, available=dst.available + a)
        debit_sk, credit_sk = (f"{now_ms:013d}#{n:06d}#{transfer_id}#{leg}" for n, leg in
                               ((next(self._seq), "d"), (next(self._seq), "c")))
        b.transfers[transfer_id] = Transfer(transfer_id, TRANSFER_TYPE, "posted", payer.wallet_id, dst.wallet_id,
                                            allowance.user_id, payee[1], a, allowance.currency, None, now, debit_sk)
        b.entries += [Entry(payer.wallet_id, debit_sk, transfer_id, TRANSFER_TYPE, "debit", a, allowance.currency,
                            "posted", dst.wallet_id, now),
                      Entry(dst.wallet_id, credit_sk, transfer_id, TRANSFER_TYPE, "credit", a, allowance.currency,
                            "posted", payer.wallet_id, now)]

    def report_double_spend(self, evidence: DoubleSpend) -> None:
        self.b.double_spends.setdefault(evidence.evidence_id, evidence)
        self.set_device_status(evidence.device_id, "frozen", ("active", "revoked", "frozen"))
