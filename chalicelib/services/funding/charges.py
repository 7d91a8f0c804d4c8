"""What Stripe tells us about charges: a top-up succeeded or failed, was refunded (and the
refund failed), was disputed (and the dispute closed). Each handler is idempotent: the money it
moves is keyed by an id derived from the Stripe object, and running totals (refunded, disputed)
are claimed in the same transaction as the money they stand for."""
from __future__ import annotations

import logging
from typing import Any

from chalicelib import observability
from chalicelib.domain.funding import TopUp
from chalicelib.domain.ledger import InsufficientFunds, deterministic_id
from chalicelib.domain.money import Money
from chalicelib.domain.unit_of_work import TopUpTotal
from chalicelib.services.funding.common import (
    CLEARING,
    DISPUTES,
    Applied,
    CreditNotYetApplied,
    EventRaced,
    FundingBase,
    topup_credit_id,
)

log = logging.getLogger(__name__)


class Charges(FundingBase):
    def _topup_of(self, obj: dict[str, Any], intent_id: str | None) -> TopUp | None:
        topup_id = (obj.get("metadata") or {}).get("topup_id")
        record = self.repo.topup(topup_id) if topup_id else None
        if record is None and intent_id:
            record = self.repo.topup_by_intent(intent_id)
        return record

    def _intent_succeeded(self, pi: dict[str, Any]) -> Applied:
        record = self._topup_of(pi, pi.get("id"))
        if record is None:
            return Applied.UNKNOWN_TOPUP
        received = pi.get("amount_received") or pi.get("amount")
        if received != record.amount or str(pi.get("currency", "")).upper() != record.currency:
            log.error("top-up amount/currency mismatch", extra={"topup_id": record.topup_id})
            self.repo.set_topup_status(record.topup_id, "failed", unless=("succeeded",))
            return Applied.MISMATCH
        amount = Money(record.amount, record.currency)
        credited = self.ledger.credit_from_system(CLEARING, record.wallet_id, amount,
                                                  topup_credit_id(str(pi["id"])), "topup")
        self.repo.set_topup_status(record.topup_id, "succeeded")
        return Applied.CREDITED if credited else Applied.ALREADY_CREDITED

    def _intent_failed(self, pi: dict[str, Any]) -> Applied:
        record = self._topup_of(pi, pi.get("id"))
        if record is None:
            return Applied.UNKNOWN_TOPUP
        # A late failure never undoes a success (events arrive out of order).
        failed = self.repo.set_topup_status(record.topup_id, "failed", unless=("succeeded",))
        return Applied.FAILED if failed else Applied.KEPT

    def _charge_refunded(self, charge: dict[str, Any]) -> Applied:
        return self._claw_back(charge, charge.get("payment_intent"), "refunded",
                               int(charge.get("amount_refunded") or 0), "refund", hold=False,
                               transfer_key=str(charge.get("id")))

    def _refund_updated(self, refund: dict[str, Any]) -> Applied:
        """A refund that fails later (the card was closed, say): Stripe puts the money back in
        our balance, so it goes back to the wallet it was taken from, once per refund, and never
        more than the refunds actually taken from that wallet (a refund we could not take, a
        shortfall, gives nothing back).

        Stripe's `amount_refunded` on the charge is not relied upon to drop after a failure:
        the claw-back of later refunds keeps its own running total, so the failed amount comes
        back here and only here."""
        if refund.get("status") not in ("failed", "canceled"):
            return Applied.IGNORED
        refund_id, amount = refund.get("id"), refund.get("amount")
        if not isinstance(refund_id, str) or not isinstance(amount, int) or amount <= 0:
            return Applied.MALFORMED
        record = self._topup_of(refund, refund.get("payment_intent") or None)
        if record is None:
            return Applied.UNKNOWN_TOPUP
        if str(refund.get("currency", "")).upper() != record.currency:
            log.error("refund currency mismatch", extra={"topup_id": record.topup_id})
            return Applied.MISMATCH
        transfer_id = deterministic_id("rff", refund_id)
        if self.ledger.store.get_transfer(transfer_id) is not None:
            return Applied.ALREADY_APPLIED
        topup_id = record.topup_id
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
        raise EventRaced(record.topup_id)

    def _dispute_created(self, dispute: dict[str, Any]) -> Applied:
        return self._claw_back(dispute, dispute.get("payment_intent"), "disputed", int(dispute.get("amount") or 0),
                               "dispute", hold=True, transfer_key=str(dispute.get("id")))

    def _claw_back(self, obj: dict[str, Any], intent_id: Any, attribute: str, total: int, type_: str, *,
                   hold: bool, transfer_key: str) -> Applied:
        """Move (or hold) money back out of the wallet it was credited to, up to `total`."""
        for _ in range(3):
            record = self._topup_of(obj, str(intent_id) if intent_id else None)
            if record is None:
                return Applied.UNKNOWN_TOPUP
            intent = record.payment_intent_id or intent_id
            if intent and self.ledger.store.get_transfer(topup_credit_id(str(intent))) is None:
                # Out of order: the credit has not happened yet. Fail, so the queue redelivers
                # this event after the payment_intent.succeeded one.
                raise CreditNotYetApplied(record.topup_id)
            done = int(getattr(record, attribute))
            if total <= done:
                return Applied.ALREADY_APPLIED
            claim = TopUpTotal(record.topup_id, attribute, done, total)
            try:
                moved = self.ledger.debit_to_system(
                    DISPUTES if hold else CLEARING, record.wallet_id, Money(total - done, record.currency),
                    deterministic_id("rf" if type_ == "refund" else "dp", transfer_key, str(total)), type_,
                    hold=hold, record=claim)
            except InsufficientFunds:
                # The money was spent: the wallet never goes negative, so this needs a person.
                log.error("refund/dispute shortfall", extra={"topup_id": record.topup_id, "type": type_})
                self.repo.flag_shortfall(record.topup_id, type_)
                observability.count("RefundNeedsAttention")
                return Applied.SHORTFALL
            if moved:
                return Applied.APPLIED
        raise EventRaced(str(intent_id))

    def _dispute_closed(self, dispute: dict[str, Any]) -> Applied:
        """A closed dispute resolves its hold: lost -> the money leaves, won -> it is released."""
        amount = int(dispute.get("amount") or 0)
        transfer_id = deterministic_id("dp", str(dispute.get("id")), str(amount))
        if self.ledger.store.get_transfer(transfer_id) is None:
            return Applied.UNKNOWN_DISPUTE
        lost = dispute.get("status") == "lost"
        return ((Applied.POSTED if lost else Applied.RELEASED) if self.ledger.resolve_hold(transfer_id, post=lost)
                else Applied.ALREADY)
