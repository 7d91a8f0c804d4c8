"""What Stripe tells us about charges: a top-up succeeded or failed, was refunded (and the
refund failed), was disputed (and the dispute closed). Each handler is idempotent: the money it
moves is keyed by an id derived from the Stripe object, and running totals (refunded, disputed)
are claimed in the same transaction as the money they stand for.

A top-up's money is the money of ONE PaymentIntent: the one recorded on the top-up (the answer
of the create call, whose idempotency key is the top-up's id). Metadata only points at a top-up;
an intent, refund or dispute of another intent never moves its money."""
from __future__ import annotations

import contextlib
import logging
from enum import Enum
from typing import Any

from chalicelib import observability
from chalicelib.domain.funding import TopUp
from chalicelib.domain.ids import rfc3339
from chalicelib.domain.ledger import DuplicateRequest, IdempotencyPut, InsufficientFunds, deterministic_id
from chalicelib.domain.money import Money
from chalicelib.domain.unit_of_work import TopUpTotal
from chalicelib.domain.wallet import Transfer
from chalicelib.services.funding.common import (
    CLEARING,
    DISPUTES,
    Applied,
    CreditNotYetApplied,
    EventRaced,
    FundingBase,
    Redeliver,
    topup_credit_id,
)
from chalicelib.services.funding.topups import topup_view
from chalicelib.services.replay import seal

log = logging.getLogger(__name__)

_EARLY_CLOSE_KEPT = 30 * 86400  # Stripe retries an event for 3 days; its queue, minutes


class DisputeStillHeld(Redeliver):
    """A dispute arrived while another dispute of the same charge still holds the money (its
    close has not been applied yet): holding both would hold more than was credited."""


class IntentMatch(Enum):
    """How an event's PaymentIntent relates to the top-up its metadata (or the index) names."""

    RECORDED = "recorded"  # the intent recorded on the top-up
    UNRECORDED = "unrecorded"  # the top-up records no intent yet (the create call's answer was lost)
    OTHER = "other"  # the top-up records another intent: not this top-up's money


def dispute_hold_id(dispute_id: str) -> str:
    """The hold of one dispute object: one per dispute, whatever its amount."""
    return deterministic_id("dph", dispute_id)


def _legacy_dispute_hold_id(dispute: dict[str, Any]) -> str | None:
    """How holds were keyed before (dispute id and amount): still found and resolved."""
    amount = dispute.get("amount")
    return deterministic_id("dp", str(dispute.get("id")), str(amount)) if isinstance(amount, int) else None


def _refunded_total(charge: dict[str, Any]) -> tuple[int, bool] | None:
    """What refunds of this charge ever took (failed ones included), and whether that came from
    the charge's own list of refunds. Stripe's docs do not say whether `amount_refunded` drops
    when a refund fails; the list (API versions before 2022-11-15 include it) does not depend
    on that: every refund ever made is in it, with its status. None: malformed."""
    reported = charge.get("amount_refunded") or 0
    if not isinstance(reported, int) or reported < 0:
        return None
    refunds = charge.get("refunds")
    data = refunds.get("data") if isinstance(refunds, dict) else None
    if (isinstance(refunds, dict) and isinstance(data, list) and data and not refunds.get("has_more")
            and all(isinstance(r, dict) and isinstance(r.get("amount"), int) and r["amount"] > 0 for r in data)):
        return max(reported, sum(r["amount"] for r in data)), True
    return reported, False


class Charges(FundingBase):
    # -- which top-up, and is this its money ---------------------------------------------------
    def _topup_of(self, obj: dict[str, Any], intent_id: Any) -> tuple[TopUp | None, IntentMatch]:
        """The top-up this object concerns, found by its PaymentIntent (the recorded one), else
        by metadata; and how the object's intent relates to it."""
        if not isinstance(intent_id, str) or not intent_id:
            return None, IntentMatch.OTHER
        record = self.repo.topup_by_intent(intent_id)
        if record is not None:
            return record, IntentMatch.RECORDED
        topup_id = (obj.get("metadata") or {}).get("topup_id")
        record = self.repo.topup(topup_id) if isinstance(topup_id, str) and topup_id else None
        if record is None:
            return None, IntentMatch.OTHER
        if record.payment_intent_id == intent_id:  # the index has not caught up yet
            return record, IntentMatch.RECORDED
        return record, IntentMatch.OTHER if record.payment_intent_id else IntentMatch.UNRECORDED

    def _credited_topup(self, obj: dict[str, Any], intent_id: Any) -> TopUp | Applied:
        """The top-up whose money a refund or a dispute of `intent_id` takes back: only once
        that intent's credit happened (else the event waits for it), and never another intent's."""
        record, relation = self._topup_of(obj, intent_id)
        if record is None and isinstance(intent_id, str) and intent_id:
            # No top-up knows this intent yet: its create call's answer was lost and its success
            # event, which records it, is still to come (disputes and refunds carry no top-up
            # id). Delivered again after it; an intent that is never ours ends in the
            # dead-letter queue and its alarm, since money we cannot place needs a person.
            raise CreditNotYetApplied(intent_id)
        if record is None:
            return Applied.UNKNOWN_TOPUP
        if relation is IntentMatch.OTHER:
            log.error("refund/dispute of a payment intent that is not the top-up's",
                      extra={"topup_id": record.topup_id})
            return Applied.MISMATCH
        if self.ledger.store.get_transfer(topup_credit_id(str(intent_id))) is None:
            # Out of order: the credit has not happened yet. Fail, so the queue redelivers
            # this event after the payment_intent.succeeded one.
            raise CreditNotYetApplied(record.topup_id)
        return record

    # -- payment intents -----------------------------------------------------------------------
    def _intent_succeeded(self, pi: dict[str, Any]) -> Applied:
        intent_id = pi.get("id")
        record, relation = self._topup_of(pi, intent_id)
        if record is None:
            return Applied.UNKNOWN_TOPUP
        if relation is IntentMatch.OTHER:
            # Another PaymentIntent carrying this top-up's id: its money is not this top-up's.
            log.error("payment intent is not the one recorded on its top-up", extra={"topup_id": record.topup_id})
            observability.count("RefundNeedsAttention")
            return Applied.MISMATCH
        received = pi.get("amount_received") or pi.get("amount")
        if received != record.amount or str(pi.get("currency", "")).upper() != record.currency:
            log.error("top-up amount/currency mismatch", extra={"topup_id": record.topup_id})
            if relation is IntentMatch.RECORDED:
                self.repo.set_topup_status(record.topup_id, "failed", unless=("succeeded",))
            return Applied.MISMATCH
        if relation is IntentMatch.UNRECORDED and not self._adopt_intent(record, str(intent_id)):
            log.error("payment intent is not the one recorded on its top-up", extra={"topup_id": record.topup_id})
            observability.count("RefundNeedsAttention")
            return Applied.MISMATCH
        amount = Money(record.amount, record.currency)
        credited = self.ledger.credit_from_system(CLEARING, record.wallet_id, amount,
                                                  topup_credit_id(str(intent_id)), "topup")
        self.repo.set_topup_status(record.topup_id, "succeeded")
        return Applied.CREDITED if credited else Applied.ALREADY_CREDITED

    def _adopt_intent(self, record: TopUp, intent_id: str) -> bool:
        """The create call's answer was lost (Stripe created the intent, we never wrote its id):
        the intent this signed event names becomes the top-up's, as that answer would have made
        it, and the top-up's first answer is written for the client's retries. Our calls for a
        top-up all carry its id as the idempotency key, so they only ever make this one intent;
        should another have been recorded meanwhile, this one credits nothing (re-read below),
        and a create call never overwrites a recorded intent (topups.py)."""
        if self.ledger.store.get_transfer(topup_credit_id(intent_id)) is not None:
            return True  # credited already (before intents were checked, or redelivered)
        answer = record.response_ct or seal(self.cipher, record.user_id,
                                            topup_view(record, status="pending", intent_id=intent_id))
        self.repo.record_charge(record.topup_id, intent_id, "pending", record.client_secret_ct, answer)
        now = self.repo.topup(record.topup_id)
        return now is not None and now.payment_intent_id == intent_id

    def _intent_failed(self, pi: dict[str, Any]) -> Applied:
        record, relation = self._topup_of(pi, pi.get("id"))
        if record is None:
            return Applied.UNKNOWN_TOPUP
        if relation is IntentMatch.OTHER:
            return Applied.MISMATCH  # another intent's failure says nothing about this top-up
        # A late failure never undoes a success (events arrive out of order).
        failed = self.repo.set_topup_status(record.topup_id, "failed", unless=("succeeded",))
        return Applied.FAILED if failed else Applied.KEPT

    # -- refunds -------------------------------------------------------------------------------
    def _charge_refunded(self, charge: dict[str, Any]) -> Applied:
        """Take back what refunds took from Stripe since the last time, by the top-up's running
        total `refunded` of every refund ever made on the charge (failed ones included: a failed
        refund comes back by its own event, `_refund_updated`)."""
        total_listed = _refunded_total(charge)
        if total_listed is None:
            return Applied.MALFORMED
        total, listed = total_listed
        found = self._credited_topup(charge, charge.get("payment_intent"))
        if isinstance(found, Applied):
            return found
        if not listed and isinstance(charge.get("id"), str):
            # Newer API versions embed no list of refunds: ask Stripe for it, the one count
            # that is right whether or not a failed refund lowered `amount_refunded`.
            amounts = self.gateway.refunds_of(charge["id"])
            if amounts is not None:
                total, listed = max(total, sum(amounts)), True
        if str(charge.get("currency") or found.currency).upper() != found.currency:
            log.error("refund currency mismatch", extra={"topup_id": found.topup_id})
            return Applied.MISMATCH
        for _ in range(3):
            record = self.repo.topup(found.topup_id)
            if record is None:
                return Applied.UNKNOWN_TOPUP
            done = record.refunded
            if total <= done:
                return Applied.ALREADY_APPLIED
            if record.refund_returned and not listed:
                # A refund of this charge failed, and Stripe's total alone cannot say whether it
                # still counts that refund: taken as if it did (never more than was refunded),
                # which leaves the wallet too much if Stripe lowered it. A person checks.
                log.error("refund after a failed refund, by amount_refunded alone",
                          extra={"topup_id": record.topup_id})
                observability.count("RefundNeedsAttention")
            try:
                moved = self.ledger.debit_to_system(
                    CLEARING, record.wallet_id, Money(total - done, record.currency),
                    deterministic_id("rf", str(charge.get("id")), str(total)), "refund",
                    record=TopUpTotal(record.topup_id, "refunded", done, total))
            except InsufficientFunds:
                return self._shortfall(record, "refund")
            if moved:
                return Applied.APPLIED
        raise EventRaced(found.topup_id)

    def _shortfall(self, record: TopUp, type_: str) -> Applied:
        # The money was spent: the wallet never goes negative, so this needs a person.
        log.error("refund/dispute shortfall", extra={"topup_id": record.topup_id, "type": type_})
        self.repo.flag_shortfall(record.topup_id, type_)
        observability.count("RefundNeedsAttention")
        return Applied.SHORTFALL

    def _refund_updated(self, refund: dict[str, Any]) -> Applied:
        """A refund that fails later (the card was closed, say): Stripe puts the money back in
        our balance, so it goes back to the wallet it was taken from, once per refund, and never
        more than the refunds actually taken from that wallet (a refund we could not take, a
        shortfall, gives nothing back).

        Stripe's docs do not say whether `amount_refunded` on the charge drops after a failure:
        the claw-back of later refunds keeps its own running total of every refund ever made
        (from the charge's list of refunds when it has one), so the failed amount comes back
        here and only here."""
        if refund.get("status") not in ("failed", "canceled"):
            return Applied.IGNORED
        refund_id, amount = refund.get("id"), refund.get("amount")
        if not isinstance(refund_id, str) or not isinstance(amount, int) or amount <= 0:
            return Applied.MALFORMED
        record, relation = self._topup_of(refund, refund.get("payment_intent"))
        if record is None:
            return Applied.UNKNOWN_TOPUP
        if relation is IntentMatch.OTHER:
            log.error("failed refund of a payment intent that is not the top-up's", extra={"topup_id": record.topup_id})
            return Applied.MISMATCH
        if str(refund.get("currency", "")).upper() != record.currency:
            log.error("refund currency mismatch", extra={"topup_id": record.topup_id})
            return Applied.MISMATCH
        transfer_id = deterministic_id("rff", refund_id)
        if self.ledger.store.get_transfer(transfer_id) is not None:
            return Applied.ALREADY_APPLIED
        return self._return_failed_refund(record.topup_id, amount, transfer_id)

    def _return_failed_refund(self, topup_id: str, amount: int, transfer_id: str) -> Applied:
        for _ in range(3):
            record = self.repo.topup(topup_id)
            if record is None:
                return Applied.UNKNOWN_TOPUP
            if record.shortfall:
                # Some refund of this charge could not be taken from the wallet: which one this
                # failed refund was is not known from running totals, so a person decides
                # rather than risk giving back money that was never taken.
                log.error("failed refund on a top-up with a shortfall", extra={"topup_id": record.topup_id})
                observability.count("RefundNeedsAttention")
                return Applied.SHORTFALL
            returned = record.refund_returned
            if returned + amount > record.refunded:
                # The refund's claw-back has not been applied yet: redelivered after it.
                raise CreditNotYetApplied(record.topup_id)
            claim = TopUpTotal(record.topup_id, "refund_returned", returned, returned + amount, at_most_refunded=True)
            if self.ledger.credit_from_system(CLEARING, record.wallet_id, Money(amount, record.currency),
                                              transfer_id, "refund", record=claim):
                return Applied.REFUND_RETURNED
            if self.ledger.store.get_transfer(transfer_id) is not None:
                return Applied.ALREADY_APPLIED
        raise EventRaced(topup_id)

    # -- disputes ------------------------------------------------------------------------------
    def _dispute_hold(self, dispute: dict[str, Any]) -> Transfer | None:
        store, legacy = self.ledger.store, _legacy_dispute_hold_id(dispute)
        return (store.get_transfer(dispute_hold_id(str(dispute.get("id"))))
                or (store.get_transfer(legacy) if legacy else None))

    def _dispute_created(self, dispute: dict[str, Any]) -> Applied:
        """Hold the disputed amount in the wallet, once per dispute object (keyed by its id: a
        charge can be disputed again after an inquiry or a dispute closed). The top-up's running
        total `disputed` is what its disputes hold right now: it never exceeds what was credited.

        Inquiries (`warning_needs_response`) are held too. Stripe moves no money for an inquiry,
        and neither does a hold (the balance stays, only `available` drops); but an inquiry can
        become a chargeback under the same dispute id, which takes the money without any other
        event we apply, so the money must still be there then. Its close (`warning_closed`)
        releases it."""
        dispute_id, amount = dispute.get("id"), dispute.get("amount")
        if not isinstance(dispute_id, str) or not dispute_id or not isinstance(amount, int) or amount <= 0:
            return Applied.MALFORMED
        if self._dispute_hold(dispute) is not None:
            return Applied.ALREADY_APPLIED
        found = self._credited_topup(dispute, dispute.get("payment_intent"))
        if isinstance(found, Applied):
            return found
        if str(dispute.get("currency") or found.currency).upper() != found.currency:
            log.error("dispute currency mismatch", extra={"topup_id": found.topup_id})
            return Applied.MISMATCH
        closed = self._closed_early(dispute_id)
        if closed is not None:  # its close was applied first (events arrive out of order)
            if closed and found.disputed + min(amount, found.amount) > found.amount:
                # Another dispute of the charge still holds the money: taking this one now
                # would let that hold's release give back what Stripe kept.
                raise DisputeStillHeld(found.topup_id)
            return self._take_lost_dispute(found, dispute_id, amount) if closed else Applied.RELEASED
        outcome = self._hold_dispute(found, dispute_id, amount)
        hold = self._dispute_hold(dispute) if outcome is Applied.APPLIED else None
        closed = self._closed_early(dispute_id) if hold is not None else None
        if hold is not None and closed is not None:  # its close ran while we held: resolve it now
            return self._resolve_dispute(dispute, hold, lost=closed)
        return outcome

    def _hold_dispute(self, found: TopUp, dispute_id: str, amount: int) -> Applied:
        transfer_id = dispute_hold_id(dispute_id)
        for _ in range(3):
            record = self.repo.topup(found.topup_id)
            if record is None:
                return Applied.UNKNOWN_TOPUP
            held, hold = record.disputed, min(amount, record.amount)
            if held + hold > record.amount:
                raise DisputeStillHeld(record.topup_id)
            try:
                moved = self.ledger.debit_to_system(
                    DISPUTES, record.wallet_id, Money(hold, record.currency), transfer_id, "dispute", hold=True,
                    record=TopUpTotal(record.topup_id, "disputed", held, held + hold))
            except InsufficientFunds:
                return self._shortfall(record, "dispute")
            if moved:
                return Applied.APPLIED
            if self.ledger.store.get_transfer(transfer_id) is not None:
                return Applied.ALREADY_APPLIED
        raise EventRaced(found.topup_id)

    def _take_lost_dispute(self, record: TopUp, dispute_id: str, amount: int) -> Applied:
        """A dispute we learn of after it was lost: the money left Stripe, it leaves the wallet
        (under the hold's id, so the dispute's events stay idempotent)."""
        try:
            moved = self.ledger.debit_to_system(DISPUTES, record.wallet_id,
                                                Money(min(amount, record.amount), record.currency),
                                                dispute_hold_id(dispute_id), "dispute")
        except InsufficientFunds:
            return self._shortfall(record, "dispute")
        return Applied.POSTED if moved else Applied.ALREADY_APPLIED

    def _closed_early(self, dispute_id: str) -> bool | None:
        """How a dispute closed whose close was applied before its creation: lost (True),
        released (False), or None if that did not happen."""
        seen = self.ledger.store.get_idempotency(deterministic_id("dpc", dispute_id))
        return None if seen is None else seen.request_hash == "lost"

    def _remember_early_close(self, dispute_id: str, lost: bool) -> None:
        now = self.now()
        with contextlib.suppress(DuplicateRequest):  # remembered already
            self.ledger.store.write(None, now=rfc3339(now), idempotency=IdempotencyPut(
                deterministic_id("dpc", dispute_id), "lost" if lost else "released", 200, "closed", dispute_id,
                int(now) + _EARLY_CLOSE_KEPT))

    def _dispute_closed(self, dispute: dict[str, Any]) -> Applied:
        """A closed dispute resolves its own hold: lost -> the money leaves, won (or an inquiry
        closed) -> it is released. Either way the top-up holds that much less. A close without
        a hold is an unknown dispute; how it closed is kept, so that its creation, should it be
        delivered later, applies that outcome instead of holding money nothing would release."""
        lost = dispute.get("status") == "lost"
        hold = self._dispute_hold(dispute)
        dispute_id = dispute.get("id")
        if hold is None and isinstance(dispute_id, str) and dispute_id:
            self._remember_early_close(dispute_id, lost)
            hold = self._dispute_hold(dispute)  # its creation may have been applied meanwhile
        if hold is None:
            return Applied.UNKNOWN_DISPUTE
        return self._resolve_dispute(dispute, hold, lost=lost)

    def _resolve_dispute(self, dispute: dict[str, Any], hold: Transfer | None, *, lost: bool) -> Applied:
        record, relation = self._topup_of(dispute, dispute.get("payment_intent"))
        topup_id = record.topup_id if record is not None and relation is not IntentMatch.OTHER else None
        if topup_id is None:
            log.error("closed dispute without its top-up", extra={"dispute_id": dispute.get("id")})
        for _ in range(3):
            if hold is None or hold.status != "pending":
                return Applied.ALREADY
            claim = None
            current = self.repo.topup(topup_id) if topup_id else None
            if current is not None:
                claim = TopUpTotal(current.topup_id, "disputed", current.disputed,
                                   max(0, current.disputed - hold.amount))
            if self.ledger.resolve_hold(hold.transfer_id, post=lost, record=claim):
                return Applied.POSTED if lost else Applied.RELEASED
            hold = self.ledger.store.get_transfer(hold.transfer_id)
        raise EventRaced(str(dispute.get("id")))
