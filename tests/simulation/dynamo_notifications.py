"""Notifications in the DynamoDB Local mode: the real streams of the notifying tables, read the
way the event pump reads them (`devstack.pump.StreamSource`, itself what Lambda's event-source
mapping does), handed to the real `Notifications` service with delivery faults, and the check
that each event made exactly one notification (issue 25: "exactly one notification per event").

The expected notifications are worked out from the final records (transfers, invitations,
top-ups, withdrawals, payment requests), never from the stream, so a record the stream lost,
repeated or reordered shows as a difference."""
from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.dynamodb.models import NotificationRecord, PaymentRequestRecord
from chalicelib.adapters.dynamodb.notifications import FIELD
from chalicelib.adapters.dynamodb.stream import changes
from chalicelib.domain.notification import notification_id
from chalicelib.services.notifications import Notifications
from devstack.pump import StreamSource
from tests.fakes import PlainCipher
from tests.simulation.faults import Crash

# How a batch reaches the handler: as read, twice, in reverse, or failed half-way (handled in
# part, then the pump reads it again from its last checkpoint).
DELIVERIES = ("once", "twice", "reversed", "failed_midway")

Key = tuple[str, str]  # (recipient, notification id)
Event = tuple[str, str]  # (type, subject)


class BatchFailed(Exception):
    """The notifications Lambda failed after handling part of its batch."""


class StreamPump:
    """The notifying tables' streams, from the simulator's tables on, into `listener`."""

    def __init__(self, make_source: Callable[[Callable[..., Any], dict[str, str]], StreamSource],
                 table_prefix: str) -> None:
        """`make_source(handler, positions)`: a StreamSource going on after `positions`."""
        self.make_source, self.table_prefix = make_source, table_prefix
        self.listener: Notifications | None = None  # None: records are read and dropped (between runs)
        # The chainer Lambda reads the entries stream the same way (its own mapping, the same
        # delivery faults): each posted entry must be chained exactly once, in order.
        self.chainer: Callable[[list[Any]], int] | None = None
        self.delivery = "once"
        self.figures: Counter[str] = Counter()
        self.source = make_source(self._handle, {})

    def _handle(self, event: dict[str, Any], context: Any) -> None:
        if self.listener is None:
            return
        batch = list(changes(event["Records"], self.table_prefix))
        self.figures[f"batches:{self.delivery}"] += 1
        self.figures["records"] += len(batch)
        if self.delivery == "reversed":
            batch.reverse()
        handlers = [self.listener.handle] + ([self.chainer] if self.chainer else [])
        if self.delivery == "failed_midway":
            for handle in handlers:
                handle(batch[: len(batch) // 2])
            raise BatchFailed("simulated: the notifications Lambda failed half-way")
        for _ in range(2 if self.delivery == "twice" else 1):
            for handle in handlers:
                handle(batch)

    def poll(self, delivery: str = "once") -> int:
        """One read of every shard, as one invocation per shard would; the records handed over."""
        self.delivery = delivery
        try:
            return self.source.poll()
        except Crash:
            # The Lambda died mid-batch: a new one starts after the last checkpoint, as the
            # event-source mapping does (a used shard iterator is not handed back).
            self.source = self.make_source(self._handle, dict(self.source.positions))
            raise

    def drain(self, quiet_polls: int = 3) -> None:
        """Everything the streams hold now, delivered once. The first read of a fresh shard
        iterator may come back empty while records wait, so only a few empty reads in a row
        count as drained."""
        self.source.refresh()
        quiet = 0
        while quiet < quiet_polls:
            quiet = 0 if self.poll() else quiet + 1


def _person(user_id: Any) -> bool:
    return isinstance(user_id, str) and user_id.startswith("usr_")


Told = set[tuple[str, str, str]]  # (recipient, type, subject)


def _money_received(world: Any, told: Told) -> None:
    """A person-to-person transfer posted (a payment, a paid request, a claimed invitation, a
    redeemed voucher) tells its recipient; a redeemed voucher tells its payer too."""
    for t in world.raw.ledger.scan_transfers():
        if t.status != "posted" or t.type not in ("transfer", "offline") or t.from_owner == t.to_owner:
            continue  # money between one's own wallets tells nobody
        if _person(t.to_owner):
            told.add((t.to_owner, "transfer.received", t.transfer_id))
        if t.type == "offline" and _person(t.from_owner):
            told.add((t.from_owner, "offline.redeemed", t.transfer_id))


def _funding(world: Any, told: Told) -> None:
    """Top-ups and withdrawals tell their owner how they ended."""
    for topup in world.topups():
        if topup.status in ("succeeded", "failed"):
            told.add((topup.user_id, f"topup.{topup.status}", topup.topup_id))
    for w in world.withdrawals().values():
        hold = world.transfer(w.withdrawal_id)
        # A failed withdrawal whose hold was posted was paid first, then its payout failed.
        if w.status == "paid" or (w.status == "failed" and hold is not None and hold.status == "posted"):
            told.add((w.user_id, "withdrawal.paid", w.withdrawal_id))
        if w.status == "failed":
            told.add((w.user_id, "withdrawal.failed", w.withdrawal_id))


def _asked(world: Any, told: Told) -> None:
    """A claimed invitation tells its sender; a payment request its payer, then its requester
    when it is paid or declined."""
    for inv in world.invitation_records().values():
        if inv.status == "posted" and _person(inv.claimed_by):
            told.add((inv.sender_id, "transfer.claimed", inv.transfer_id))
    for r in PaymentRequestRecord.scan(consistent_read=True):
        told.add((r.payer_id, "payment_request.received", r.request_id))  # every request was asked
        if r.status in ("paid", "declined"):
            told.add((r.requester_id, f"payment_request.{r.status}", r.request_id))


def expected_notifications(world: Any) -> dict[Key, Event]:
    """What must have been told, to whom, from the final records alone (domain.notification)."""
    told: Told = set()
    for source in (_money_received, _funding, _asked):
        source(world, told)
    return {(who, notification_id(kind, subject, who)): (kind, subject) for who, kind, subject in told
            if who.startswith(world.user(""))}


def stored_notifications(world: Any) -> dict[Key, Event]:
    """Every notification in the inbox of one of this run's people: (type, what it is about)."""
    cipher, found = PlainCipher(), {}
    for r in NotificationRecord.scan(consistent_read=True):
        if not r.user_id.startswith(world.user("")):
            continue
        data = json.loads(cipher.decrypt(r.data_ct, r.user_id, FIELD))
        subject = next((str(data[k]) for k in ("topup_id", "withdrawal_id", "request_id", "transfer_id")
                        if data.get(k)), "?")
        found[(r.user_id, r.notification_id)] = (str(r.type), subject)
    return found


def check_notifications(world: Any, pump: StreamPump, patience: float = 5.0) -> int:
    """Every event told exactly once to its recipient, nothing told without its event; the
    number of notifications checked. A stream record may still be on its way: the streams are
    read again for a few seconds before a missing notification counts as missing."""
    deadline = time.monotonic() + patience
    while True:
        pump.drain()
        want, have = expected_notifications(world), stored_notifications(world)
        if set(want) <= set(have) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    missing = {key: want[key] for key in set(want) - set(have)}
    unexpected = {key: have[key] for key in set(have) - set(want)}
    assert not missing, f"events never told: {sorted(missing.items())}"
    assert not unexpected, f"notifications without their event: {sorted(unexpected.items())}"
    wrong = {key: (have[key], want[key]) for key in want if have[key][0] != want[key][0]}
    assert not wrong, f"notifications of the wrong type: {wrong}"
    return len(want)
