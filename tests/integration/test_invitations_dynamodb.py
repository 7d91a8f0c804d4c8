"""Invitations on DynamoDB Local: claim, cancel and expiry race, and exactly one of them wins."""
from __future__ import annotations

import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from chalicelib.domain.commands import SendTransfer
from chalicelib.domain.contact import email_lookup_key, identity_key
from chalicelib.services.invitations import Invitations
from chalicelib.services.reconcile import reconcile
from tests.fakes import FakeMessenger
from tests.integration.test_ledger_dynamodb import fund, person


def invitations_at(c, now: float) -> Invitations:
    """The invitations service of the stack, with its clock at `now` (the claimer's and the
    sweep's clocks may disagree by a little in AWS; the conditions decide, not the clocks)."""
    return Invitations(ledger=c.ledger, store=c.ledger_store, users=c.users, messenger=FakeMessenger(),
                       cipher=c.cipher, now=lambda: now)


def test_claim_cancel_and_expiry_racing_have_exactly_one_outcome(stack_container):
    c = stack_container
    sender, _, wallet = person(c)
    fund(c.ledger, wallet, 100_000)
    claimers = [person(c)[0] for _ in range(2)]
    sent = []
    for i in range(12):
        contact = f"new.{uuid.uuid4().hex[:10]}@example.com"
        out = c.ledger.transfer(sender, uuid.uuid4().hex, SendTransfer.of(
            {"from_wallet_id": wallet, "amount": 100 + i, "currency": "USD", "to": {"email": contact, "invite": True}}))
        assert out.body["status"] == "unclaimed"
        sent.append((out.body["transfer_id"], identity_key(email_lookup_key(contact), c.blind_index),
                     c.ledger_store.get_invitation(out.body["transfer_id"]).expires_at))
    assert c.ledger.wallet(sender, wallet).held == sum(100 + i for i in range(12))

    def attempt(kind: str, transfer_id: str, contact: str, expires_at: int) -> tuple[str, str, bool]:
        if kind == "cancel":
            try:
                invitations_at(c, expires_at - 5).cancel(sender, transfer_id)
                return transfer_id, kind, True
            except Exception:  # noqa: BLE001 - TransferNotCancelable: another outcome won
                return transfer_id, kind, False
        if kind == "expire":
            inv = c.ledger_store.get_invitation(transfer_id)
            from chalicelib.domain.unit_of_work import InvitationOutcome

            won = c.ledger.resolve_hold(transfer_id, post=False,
                                        record=InvitationOutcome(transfer_id, "expired", inv.expires_at))
            return transfer_id, kind, won
        claimer = claimers[int(kind[-1])]
        return transfer_id, kind, invitations_at(c, expires_at - 5).deliver(contact, claimer) == 1

    tasks = [(kind, *s) for s in sent for kind in ("cancel", "expire", "claim0", "claim1")]
    random.shuffle(tasks)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda t: attempt(*t), tasks))

    status = {"cancel": "canceled", "expire": "expired", "claim0": "posted", "claim1": "posted"}
    for transfer_id, _, _ in sent:
        winners = [kind for tid, kind, won in results if tid == transfer_id and won]
        assert len(winners) == 1, (transfer_id, winners)
        invitation = c.ledger_store.get_invitation(transfer_id)
        assert invitation.status == status[winners[0]]
        view = c.ledger.get_transfer(sender, transfer_id)
        assert view["status"] == invitation.status
    w = c.ledger.wallet(sender, wallet)
    claimed = sum(c.ledger_store.get_invitation(t).amount for t, _, _ in sent
                  if c.ledger_store.get_invitation(t).status == "posted")
    received = sum(c.ledger.wallet(u, c.ledger.default_wallet(u, "USD")).balance for u in claimers)
    assert (w.balance, w.held, w.available) == (100_000 - claimed, 0, 100_000 - claimed)
    assert received == claimed
    report = reconcile(c.ledger_store)
    assert report.ok, report.drift[:5]


def test_a_claim_at_the_expiry_loses_to_the_sweep(stack_container):
    c = stack_container
    sender, _, wallet = person(c)
    fund(c.ledger, wallet, 1000)
    contact = f"late.{uuid.uuid4().hex[:10]}@example.com"
    out = c.ledger.transfer(sender, uuid.uuid4().hex, SendTransfer.of(
        {"from_wallet_id": wallet, "amount": 300, "currency": "USD",
         "to": {"email": contact, "invite": True}}))
    tid = out.body["transfer_id"]
    expires = c.ledger_store.get_invitation(tid).expires_at
    key = identity_key(email_lookup_key(contact), c.blind_index)
    late = person(c)[0]
    assert invitations_at(c, expires).deliver(key, late) == 0
    swept = invitations_at(c, expires + 1).sweep()
    assert swept["expired"] >= 1 and swept["failed"] == 0
    assert c.ledger.get_transfer(sender, tid)["status"] == "expired"
    assert c.ledger.wallet(sender, wallet).available == 1000
    assert invitations_at(c, time.time()).sweep()["failed"] == 0
