"""Reconciliation: check every ledger invariant and report drift (log line + metric).

Invariants (docs/architecture.md): per currency the balances of all wallets, system shards
included, sum to zero; each wallet's posted entries sum to its balance and its pending debits
to its held amount, with available = balance - held; no user wallet is negative; each transfer
has exactly the legs its status calls for, of its amount.
"""
from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.ids import rfc3339
from chalicelib.domain.wallet import Transfer

log = logging.getLogger(__name__)


@dataclass
class Report:
    wallets: int = 0
    transfers: int = 0
    entries: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    drift: list[str] = field(default_factory=list)
    # Holds pending longer than the configured age: not drift (the books balance), but money a
    # person should look at (a payout whose outcome stayed unknown, a stuck process).
    stale_holds: list[str] = field(default_factory=list)
    # Exchange (docs/exchange.md), per currency: the exchange accounts' position (what went in
    # minus what came out: the house's open currency exposure) and the revenue the spread earned.
    fx_positions: dict[str, int] = field(default_factory=dict)
    fx_revenue: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.drift


def reconcile(store: Any, *, offline: Any = None, now: float | None = None,
              stale_after_seconds: int = 3 * 86400) -> Report:
    """`offline` (the allowances' store), when given, adds the allowances' invariants."""
    report = Report()
    wallets = list(store.scan_wallets())
    entries = list(store.scan_entries())
    transfers = list(store.scan_transfers())
    report.wallets, report.entries, report.transfers = len(wallets), len(entries), len(transfers)
    legs: dict[str, list[Any]] = defaultdict(list)
    for e in entries:
        legs[e.transfer_id].append(e)
    _check_wallets(report, wallets, entries)
    _check_transfers(report, transfers, legs)
    if offline is not None:
        allowances = list(offline.scan_allowances())
        _check_allowances(report, allowances, list(offline.scan_redemptions()), {t.transfer_id: t for t in transfers})
        _check_outstanding(report, allowances, offline.outstanding_totals())
    stale_before = rfc3339((time.time() if now is None else now) - stale_after_seconds)
    # Withdrawals only: a dispute's hold stays open for weeks by design.
    report.stale_holds = [f"hold {t.transfer_id} ({t.type}) pending since {t.created_at}" for t in transfers
                          if t.status == "pending" and t.type == "withdrawal" and t.created_at < stale_before]
    return report


def _check_wallets(report: Report, wallets: list[Any], entries: list[Any]) -> None:
    """Each wallet's balance is its posted legs, its held amount its pending debits; per
    currency, all balances (system shards included) sum to zero; no user wallet is negative."""
    totals: dict[str, int] = defaultdict(int)
    posted: dict[str, int] = defaultdict(int)
    pending: dict[str, int] = defaultdict(int)
    for e in entries:
        if e.status == "posted":
            posted[e.wallet_id] += e.amount if e.direction == "credit" else -e.amount
        elif e.status == "pending" and e.direction == "debit":
            pending[e.wallet_id] += e.amount
    for w in wallets:
        totals[w.currency] += w.balance
        if posted[w.wallet_id] != w.balance:
            report.drift.append(f"wallet {w.wallet_id}: balance {w.balance} != posted entries {posted[w.wallet_id]}")
        if pending[w.wallet_id] != w.held:
            report.drift.append(f"wallet {w.wallet_id}: held {w.held} != pending debits {pending[w.wallet_id]}")
        if w.available != w.balance - w.held:
            report.drift.append(f"wallet {w.wallet_id}: available {w.available} != balance - held")
        if w.kind == "user" and (w.balance < 0 or w.available < 0):
            report.drift.append(f"wallet {w.wallet_id}: negative ({w.balance}, available {w.available})")
    report.drift += [f"currency {c}: balances sum to {total}, not 0" for c, total in totals.items() if total != 0]
    report.totals = dict(totals)
    _report_fx(report, wallets)


def _report_fx(report: Report, wallets: list[Any]) -> None:
    """The exchange accounts' positions and revenue per currency (their shards summed). They are
    in the per-currency sums above like any account; revenue only ever receives fees, so a
    negative one is drift."""
    from chalicelib.domain.fx import FX_ACCOUNT, FX_REVENUE_ACCOUNT

    accounts = {FX_ACCOUNT: report.fx_positions, FX_REVENUE_ACCOUNT: report.fx_revenue}
    for w in wallets:
        parts = w.wallet_id.split(":")
        if w.kind == "system" and len(parts) == 4 and parts[1] in accounts:
            accounts[parts[1]][w.currency] = accounts[parts[1]].get(w.currency, 0) + w.balance
    report.drift += [f"fx revenue {c}: negative ({v})" for c, v in report.fx_revenue.items() if v < 0]


_EXPECTED_LEGS = {"posted": {("debit", "posted"), ("credit", "posted")}, "pending": {("debit", "pending")},
                  "voided": {("debit", "voided")}}


def _check_transfers(report: Report, transfers: list[Any], legs: dict[str, list[Any]]) -> None:
    """Each transfer has exactly the legs its status calls for, of its amount, on its wallets;
    no leg belongs to no transfer."""
    for t in transfers:
        got = legs.pop(t.transfer_id, [])
        want = _EXPECTED_LEGS.get(t.status)
        shape = {(e.direction, e.status) for e in got}
        if want is None:
            report.drift.append(f"transfer {t.transfer_id}: unknown status {t.status}")
            continue
        wallets_ok = all(e.wallet_id == (t.from_wallet_id if e.direction == "debit" else t.to_wallet_id) for e in got)
        amounts_ok = all(e.amount == t.amount and e.currency == t.currency for e in got)
        if shape != want or len(got) != len(want) or not amounts_ok or not wallets_ok:
            report.drift.append(f"transfer {t.transfer_id} ({t.status}): legs {sorted(shape)} do not match")
    report.drift += [f"entries of unknown transfer {transfer_id}" for transfer_id in legs]


def _check_allowances(report: Report, allowances: list[Any], redemptions: list[Any],
                      transfers: Mapping[str, Transfer]) -> None:
    """An allowance's hold is what is left of it (pending while open, voided once closed), its
    `spent` is the sum of its redemptions, each a posted transfer of its amount, and never more
    than the allowance: so the wallets' `held` (checked above against pending legs) is exactly
    the open holds, allowances included."""
    redeemed: dict[str, int] = defaultdict(int)
    for r in redemptions:
        redeemed[r.allowance_id] += r.amount
        t = transfers.get(r.transfer_id)
        if t is None or t.status != "posted" or t.amount != r.amount:
            report.drift.append(f"redemption {r.allowance_id}#{r.seq}: no posted transfer of {r.amount}")
    for a in allowances:
        hold = transfers.get(a.hold_id)
        want = "pending" if a.status == "open" else "voided"
        if hold is None or hold.status != want or hold.amount != a.amount - a.spent:
            report.drift.append(f"allowance {a.allowance_id}: hold is not {want} with {a.amount - a.spent} left")
        if not 0 <= a.spent <= a.amount or redeemed[a.allowance_id] != a.spent:
            report.drift.append(f"allowance {a.allowance_id}: spent {a.spent} != redeemed {redeemed[a.allowance_id]}"
                                f" (of {a.amount})")


def _check_outstanding(report: Report, allowances: list[Any], counters: dict[str, int]) -> None:
    """Each user's outstanding counter (the limit's running total) is what their open
    allowances have left, per currency."""
    from chalicelib.domain.offline import outstanding_key

    left: dict[str, int] = defaultdict(int)
    for a in allowances:
        if a.status == "open":
            left[outstanding_key(a.user_id, a.currency)] += a.amount - a.spent
    for key in set(left) | set(counters):
        counted = counters.get(key, 0)
        if left[key] != counted:
            report.drift.append(f"outstanding {key.split('#', 1)[1]}: counter {counted} != open {left[key]}")


def report_drift(report: Report) -> None:
    """One structured log line plus a CloudWatch metric in Embedded Metric Format."""
    from chalicelib import observability

    observability.count("ReconciliationDrift", len(report.drift))
    observability.count("StaleHolds", len(report.stale_holds))
    observability.flush()
    if report.stale_holds:
        log.warning("holds pending too long: %s", json.dumps({"holds": report.stale_holds[:50],
                                                              "count": len(report.stale_holds)}))
    if report.drift:
        log.error("ledger drift: %s", json.dumps({"drift": report.drift[:50], "count": len(report.drift)}))
    else:
        log.info("ledger reconciled: %s", json.dumps({"wallets": report.wallets, "transfers": report.transfers,
                                                      "entries": report.entries, "fx_positions": report.fx_positions,
                                                      "fx_revenue": report.fx_revenue}))
