"""Funding through Stripe: payment methods, top-ups (credited only by the signed webhook) and
withdrawals (held at once, settled by payout events), and the handlers of those events.

Every handler is idempotent: the money it moves is keyed by a transfer id derived from the Stripe
object (so a redelivered or reordered event finds the transfer done), and cumulative amounts
(refunded, disputed) are claimed in the same transaction as the money they stand for.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import (
    CardDeclined,
    DomainError,
    InvalidRequest,
    NotFound,
    PaymentProviderError,
    PayoutAccountRequired,
    ServiceUnavailable,
)
from chalicelib.domain.funding import NewPaymentMethod, NewTopUp
from chalicelib.domain.ids import rfc3339
from chalicelib.domain.ledger import (
    IdempotencyKeyReused,
    InsufficientFunds,
    check_idempotency_key,
    deterministic_id,
)
from chalicelib.domain.money import Money
from chalicelib.services.ledger import Ledger, Outcome

log = logging.getLogger(__name__)

CLEARING = "stripe_clearing"  # money that Stripe holds for us: top-ups in, refunds out
PAYOUTS = "payouts"  # money on its way to users' banks
DISPUTES = "disputes"

RESUME_WITHIN = 23 * 3600  # below Stripe's 24 h idempotency-key memory


def _epoch(rfc3339_time: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(rfc3339_time.replace("Z", "+00:00")).timestamp()


_INTENT_STATUS = {"requires_action": "requires_action", "requires_source_action": "requires_action",
                  "succeeded": "pending", "processing": "pending", "requires_capture": "pending",
                  "requires_confirmation": "pending", "requires_payment_method": "failed", "canceled": "failed"}


@dataclass
class Funding:
    repo: Any
    gateway: Any
    ledger: Ledger
    mfa: Any
    cipher: Any
    now: Callable[[], float] = time.time

    # -- customers and payment methods ----------------------------------------------------------
    def customer(self, user_id: str) -> str:
        user = self.repo.user(user_id)
        if user is None:
            raise NotFound()
        if user.stripe_customer_id:
            return str(user.stripe_customer_id)
        return str(self.repo.set_customer(user_id, self.gateway.create_customer(user_id)))

    def setup_intent(self, user_id: str) -> dict[str, Any]:
        intent = self.gateway.create_setup_intent(self.customer(user_id), deterministic_id(
            "seti", user_id, str(self.now())))
        return {"setup_intent_id": intent.id, "client_secret": intent.client_secret}

    def add_payment_method(self, user_id: str, stripe_pm_id: str) -> dict[str, Any]:
        pm_id = deterministic_id("pmt", user_id, stripe_pm_id)
        existing = self.repo.payment_method(pm_id)
        if existing is not None and existing.status == "active":
            return self._pm_view(existing)
        card = self.gateway.attach_payment_method(stripe_pm_id, self.customer(user_id))
        details = {"brand": card.brand, "last4": card.last4, "exp_month": card.exp_month, "exp_year": card.exp_year}
        record = NewPaymentMethod(
            payment_method_id=pm_id, user_id=user_id, stripe_pm_id=card.stripe_id, type=card.type,
            details_ct=self.cipher.encrypt(json.dumps(details), user_id, "payment_method"),
            created_at=rfc3339(self.now()))
        self.repo.add_payment_method(record, reattach=existing is not None)
        return self._pm_view(record)

    def _pm_view(self, r: Any) -> dict[str, Any]:
        details = json.loads(self.cipher.decrypt(r.details_ct, r.user_id, "payment_method"))
        return {"payment_method_id": r.payment_method_id, "type": r.type, **details, "created_at": r.created_at}

    def payment_methods(self, user_id: str) -> list[dict[str, Any]]:
        return [self._pm_view(r) for r in self.repo.payment_methods_of(user_id)]

    def _own_pm(self, user_id: str, pm_id: str) -> Any:
        r = self.repo.payment_method(pm_id)
        if r is None or r.user_id != user_id or r.status != "active":
            raise NotFound("The payment method was not found.")
        return r

    def remove_payment_method(self, user_id: str, pm_id: str) -> None:
        r = self._own_pm(user_id, pm_id)
        self.gateway.detach_payment_method(r.stripe_pm_id)
        self.repo.detach(pm_id)

    # -- top-ups ----------------------------------------------------------------------------------
    def top_up(self, user_id: str, idempotency_key: str | None, request: dict[str, Any]) -> Outcome:
        key = check_idempotency_key(idempotency_key)
        topup_id = deterministic_id("tu", user_id, key)
        req_hash = self.ledger.request_hash("topups", request)
        existing = self.repo.topup(topup_id)
        if existing is not None:
            return self._topup_replay(existing, req_hash)
        wallet = self.ledger.wallet(user_id, request["wallet_id"])
        amount = Money(request["amount"], wallet.currency)
        self.ledger.check_maximum(amount)
        pm = self._own_pm(user_id, request["payment_method_id"])
        record = NewTopUp(topup_id=topup_id, user_id=user_id, wallet_id=wallet.wallet_id,
                             payment_method_id=pm.payment_method_id, amount=amount.amount, currency=amount.currency,
                             status="creating", request_hash=req_hash, created_at=rfc3339(self.now()))
        if not self.repo.claim_topup(record):  # a concurrent request with the same key
            again = self.repo.topup(topup_id)
            return self._topup_replay(again, req_hash)
        return self._charge(record, pm.stripe_pm_id)

    def _charge(self, record: Any, stripe_pm_id: str) -> Outcome:
        """Call Stripe for a claimed top-up (first time, or resuming after a crash/timeout)."""
        try:
            intent = self.gateway.charge(amount=int(record.amount), currency=record.currency,
                                         customer_id=self.customer(record.user_id), stripe_pm_id=stripe_pm_id,
                                         metadata={"topup_id": record.topup_id, "user_id": record.user_id,
                                                   "wallet_id": record.wallet_id},
                                         key=record.topup_id)
        except (CardDeclined, PaymentProviderError, InvalidRequest) as err:
            # Remembered like a success, so a retry with the same key gets the same answer.
            sealed = {"error": {"code": err.code, "message": err.message, "details": err.details}}
            self.repo.record_charge(record.topup_id, None, "failed", None, self._seal(record, sealed))
            raise
        status = _INTENT_STATUS.get(intent.status, "pending")
        secret = intent.client_secret if status == "requires_action" else None
        view = self._topup_view(record, status=status, intent_id=intent.id, client_secret=secret)
        self.repo.record_charge(record.topup_id, intent.id, status,
                                self.cipher.encrypt(secret, record.user_id, "client_secret") if secret else None,
                                self._seal(record, {"status": 202, "body": view}))
        return Outcome(202, view)

    def _seal(self, record: Any, answer: dict[str, Any]) -> str:
        return str(self.cipher.encrypt(json.dumps(answer), record.user_id, "idempotent_response"))

    def _topup_replay(self, record: Any, req_hash: str) -> Outcome:
        if record.request_hash != req_hash:
            raise IdempotencyKeyReused()
        if not record.response_ct:  # crashed or timed out before Stripe answered
            if self.now() - _epoch(record.created_at) > RESUME_WITHIN:
                # Stripe keeps idempotency keys 24 h: charging again could charge twice. If the
                # first charge went through, its webhook credits the top-up (metadata) anyway.
                return Outcome(202, self._topup_view(record, status="pending"), replayed=True)
            pm = self.repo.payment_method(record.payment_method_id)
            if pm is None:
                raise ServiceUnavailable()
            return self._charge(record, pm.stripe_pm_id)
        first = json.loads(self.cipher.decrypt(record.response_ct, record.user_id, "idempotent_response"))
        if "error" in first:
            err = DomainError(first["error"]["message"], details=first["error"]["details"])
            err.code = first["error"]["code"]
            raise err
        return Outcome(first["status"], first["body"], replayed=True)

    def _topup_view(self, r: Any, *, status: str | None = None, intent_id: str | None = None,
                    client_secret: str | None = None) -> dict[str, Any]:
        view = {"topup_id": r.topup_id, "status": status or r.status, "wallet_id": r.wallet_id,
                "amount": int(r.amount), "currency": r.currency,
                "provider_reference": intent_id or r.payment_intent_id, "created_at": r.created_at}
        if client_secret:
            view["client_secret"] = client_secret
        return view

    def get_topup(self, user_id: str, topup_id: str) -> dict[str, Any]:
        r = self.repo.topup(topup_id)
        if r is None or r.user_id != user_id:
            raise NotFound("The top-up was not found.")
        status = "pending" if r.status == "creating" else r.status
        secret = (self.cipher.decrypt(r.client_secret_ct, r.user_id, "client_secret")
                  if r.client_secret_ct and status == "requires_action" else None)
        return self._topup_view(r, status=status, client_secret=secret)

    # -- withdrawals ------------------------------------------------------------------------------
    def open_payout_account(self, user_id: str) -> dict[str, Any]:
        user = self.repo.user(user_id)
        if user is None:
            raise NotFound()
        account = self.gateway.open_payout_account(user_id, user.payout_account_id)
        self.repo.set_payout_account(user_id, account.account_id, account.status)
        view: dict[str, Any] = {"status": account.status}
        if account.onboarding_url:
            view["onboarding_url"] = account.onboarding_url
        return view

    def payout_account(self, user_id: str) -> dict[str, Any]:
        user = self.repo.user(user_id)
        if user is None or not user.payout_status:
            raise NotFound("No payout account yet: POST /payout-account.")
        return {"status": user.payout_status}

    def withdraw(self, user_id: str, idempotency_key: str | None, request: dict[str, Any], otp: Any) -> Outcome:
        key = check_idempotency_key(idempotency_key)
        withdrawal_id = deterministic_id("wd", user_id, key)
        req_hash = self.ledger.request_hash("withdrawals", request)  # without the otp: a retry may carry a fresh code
        existing = self.repo.withdrawal(withdrawal_id)
        if existing is not None:
            if existing.request_hash != req_hash:
                raise IdempotencyKeyReused()
            if existing.response_ct:  # the first complete answer, as it was
                first = json.loads(self.cipher.decrypt(existing.response_ct, user_id, "idempotent_response"))
                return Outcome(first["status"], first["body"], replayed=True)
            if not existing.payout_id and existing.status == "pending":
                self._send_payout(existing)  # the first call stopped between hold and Stripe
            return self._withdrawal_answer(withdrawal_id, replayed=True)
        self.mfa.require(user_id, otp)
        wallet = self.ledger.wallet(user_id, request["wallet_id"])
        amount = Money(request["amount"], wallet.currency)
        self.ledger.check_maximum(amount)
        user = self.repo.user(user_id)
        if not self.gateway.platform_payouts and not (user and user.payout_account_id):
            raise PayoutAccountRequired()
        record = self.repo.withdrawal_put(withdrawal_id=withdrawal_id, user_id=user_id, wallet_id=wallet.wallet_id,
                                          amount=amount.amount, currency=amount.currency, request_hash=req_hash,
                                          created_at=rfc3339(self.now()))
        if not self.ledger.debit_to_system(PAYOUTS, wallet.wallet_id, amount, withdrawal_id, "withdrawal",
                                           hold=True, record=record, daily_limit=True):
            return self.withdraw(user_id, idempotency_key, request, otp)  # a concurrent twin won: replay it
        self._send_payout(self.repo.withdrawal(withdrawal_id))
        return self._withdrawal_answer(withdrawal_id)

    def _withdrawal_answer(self, withdrawal_id: str, replayed: bool = False) -> Outcome:
        """Answer with the withdrawal; once it is complete (payout sent, or failed), keep that
        answer (encrypted) so replays of the key return it unchanged, whatever happens next."""
        w = self.repo.withdrawal(withdrawal_id)
        view = self._withdrawal_view(w)
        if w.payout_id or w.status in ("failed", "needs_attention"):
            self.repo.keep_withdrawal_answer(withdrawal_id, self._seal(w, {"status": 202, "body": view}))
        return Outcome(202, view, replayed=replayed)

    def _send_payout(self, w: Any) -> None:
        """Pay a held withdrawal out, or go on from wherever an earlier attempt stopped.

        Never twice: in Connect mode the money first moves to the user's connected account
        (a Stripe transfer), then a payout leaves that account. Each call's id is recorded as
        soon as Stripe returns it; a call that was attempted but whose answer was lost is looked
        up at Stripe before anything is sent again; and a call is repeated blindly (same
        idempotency key) only while Stripe still remembers that key (RESUME_WITHIN of the
        withdrawal's creation). Past that, a withdrawal whose outcome is unknown waits for a
        person (`needs_attention`), holding its money.

        Only a refusal that proves no money left (before any transfer) gives the hold back; an
        unknown outcome (ServiceUnavailable) keeps it for the retry, the resume job or the
        payout events to settle."""
        user = self.repo.user(w.user_id)
        account = user.payout_account_id if user else None
        meta = {"withdrawal_id": w.withdrawal_id, "user_id": w.user_id}
        try:
            if not self.gateway.platform_payouts and not w.stripe_transfer_id:
                transfer_id = self.gateway.find_transfer(w.withdrawal_id) if w.transfer_attempted_at else None
                if transfer_id is None:
                    if not self._may_call(w, w.transfer_attempted_at, "transfer"):
                        return
                    transfer_id = self.gateway.transfer_to_account(
                        amount=int(w.amount), currency=w.currency, account_id=account or "",
                        withdrawal_id=w.withdrawal_id, metadata=meta)
                self.repo.set_stripe_transfer(w.withdrawal_id, transfer_id)
            payout_id = self.gateway.find_payout(account, w.withdrawal_id) if w.payout_attempted_at else None
            if payout_id is None:
                if not self._may_call(w, w.payout_attempted_at, "payout"):
                    return
                payout_id = self.gateway.create_payout(amount=int(w.amount), currency=w.currency,
                                                       account_id=account, withdrawal_id=w.withdrawal_id,
                                                       metadata=meta)
        except (PaymentProviderError, CardDeclined):
            # Stripe refused a create call outright (look-ups never raise these): nothing was
            # made by that call. If the money already sits in the connected account, it is
            # taken back first; then the hold goes back, once, with the status.
            latest = self.repo.withdrawal(w.withdrawal_id)
            self._reverse_transfer(latest)
            self.ledger.resolve_hold(w.withdrawal_id, post=False,
                                     record=self.repo.withdrawal_status_put(w.withdrawal_id, "failed"))
            return
        self.repo.set_payout(w.withdrawal_id, payout_id)

    def _may_call(self, w: Any, attempted_at: float | None, call: str) -> bool:
        """Whether a Stripe call that Stripe has no record of may be made now: a first call
        always (its key is new); a repeat only while Stripe still remembers the key of the first
        one, so that a first call that did go through is answered, not done again. Otherwise the
        withdrawal waits for a person."""
        if attempted_at is None:
            self.repo.mark_attempt(w.withdrawal_id, call, self.now())
            return True
        if self.now() - float(attempted_at) < RESUME_WITHIN:
            return True
        self._needs_attention(w, f"{call} outcome unknown past the idempotency window")
        return False

    def _needs_attention(self, w: Any, reason: str) -> None:
        from chalicelib import observability

        if self.repo.set_withdrawal_status(w.withdrawal_id, "needs_attention", reason=reason):
            log.error("withdrawal needs attention", extra={"withdrawal_id": w.withdrawal_id, "reason": reason})
            observability.count("WithdrawalNeedsAttention")

    def resume_stuck_withdrawals(self, older_than_seconds: int = 900) -> dict[str, int]:
        """Go on with withdrawals whose first call stopped between the hold and Stripe (crash,
        timeout) and that no retry resumed. Each withdrawal on its own: one that fails is logged
        and counted, and the others still go. Run by its own scheduled Lambda."""
        cutoff = rfc3339(self.now() - older_than_seconds)
        done = {"resumed": 0, "failed": 0}
        for w in self.repo.stuck_withdrawals(cutoff):
            try:
                self._send_payout(w)
                done["resumed"] += 1
            except Exception:
                log.exception("resuming a withdrawal failed", extra={"withdrawal_id": w.withdrawal_id})
                done["failed"] += 1
        if done["failed"]:
            from chalicelib import observability

            observability.count("WithdrawalResumeFailed", done["failed"])
        return done

    def _withdrawal_view(self, w: Any) -> dict[str, Any]:
        return {"withdrawal_id": w.withdrawal_id, "status": w.status, "wallet_id": w.wallet_id,
                "amount": int(w.amount), "currency": w.currency, "provider_reference": w.payout_id,
                "created_at": w.created_at}

    def get_withdrawal(self, user_id: str, withdrawal_id: str) -> dict[str, Any]:
        w = self.repo.withdrawal(withdrawal_id)
        if w is None or w.user_id != user_id:
            raise NotFound("The withdrawal was not found.")
        return self._withdrawal_view(w)

    # -- Stripe events ----------------------------------------------------------------------------
    def apply(self, event_type: str, obj: dict[str, Any]) -> str:
        """Apply one verified event; what happened, for the log."""
        handler = {
            "payment_intent.succeeded": self._intent_succeeded,
            "payment_intent.payment_failed": self._intent_failed,
            "charge.refunded": self._charge_refunded,
            "charge.refund.updated": self._refund_updated,
            "charge.dispute.created": self._dispute_created,
            "charge.dispute.closed": self._dispute_closed,
            "payout.paid": lambda o: self._payout_settled(o, paid=True),
            "payout.failed": lambda o: self._payout_settled(o, paid=False),
            "payout.canceled": lambda o: self._payout_settled(o, paid=False),
        }.get(event_type)
        return handler(obj) if handler else "ignored"

    def _topup_of(self, obj: dict[str, Any], intent_id: str | None) -> Any:
        topup_id = (obj.get("metadata") or {}).get("topup_id")
        record = self.repo.topup(topup_id) if topup_id else None
        if record is None and intent_id:
            record = self.repo.topup_by_intent(intent_id)
        return record

    def _intent_succeeded(self, pi: dict[str, Any]) -> str:
        record = self._topup_of(pi, pi.get("id"))
        if record is None:
            return "unknown top-up"
        received = pi.get("amount_received") or pi.get("amount")
        if received != int(record.amount) or str(pi.get("currency", "")).upper() != record.currency:
            log.error("top-up amount/currency mismatch", extra={"topup_id": record.topup_id})
            self.repo.set_topup_status(record.topup_id, "failed", unless=("succeeded",))
            return "mismatch"
        amount = Money(int(record.amount), record.currency)
        credited = self.ledger.credit_from_system(CLEARING, record.wallet_id, amount,
                                                  deterministic_id("tp", str(pi["id"])), "topup")
        self.repo.set_topup_status(record.topup_id, "succeeded")
        return "credited" if credited else "already credited"

    def _intent_failed(self, pi: dict[str, Any]) -> str:
        record = self._topup_of(pi, pi.get("id"))
        if record is None:
            return "unknown top-up"
        # A late failure never undoes a success (events arrive out of order).
        return "failed" if self.repo.set_topup_status(record.topup_id, "failed", unless=("succeeded",)) else "kept"

    def _charge_refunded(self, charge: dict[str, Any]) -> str:
        return self._claw_back(charge, charge.get("payment_intent"), "refunded",
                               int(charge.get("amount_refunded") or 0), "refund", hold=False,
                               transfer_key=str(charge.get("id")))

    def _refund_updated(self, refund: dict[str, Any]) -> str:
        """A refund that fails later (the card was closed, say): Stripe puts the money back in
        our balance, so it goes back to the wallet it was taken from, once per refund, and never
        more than the refunds actually taken from that wallet (a refund we could not take, a
        shortfall, gives nothing back).

        Stripe's `amount_refunded` on the charge is not relied upon to drop after a failure:
        the claw-back of later refunds keeps its own running total, so the failed amount comes
        back here and only here."""
        if refund.get("status") not in ("failed", "canceled"):
            return "ignored"
        refund_id, amount = refund.get("id"), refund.get("amount")
        if not isinstance(refund_id, str) or not isinstance(amount, int) or amount <= 0:
            return "malformed"
        record = self._topup_of(refund, str(refund.get("payment_intent") or "") or None)
        if record is None:
            return "unknown top-up"
        if str(refund.get("currency", "")).upper() != record.currency:
            log.error("refund currency mismatch", extra={"topup_id": record.topup_id})
            return "mismatch"
        transfer_id = deterministic_id("rff", refund_id)
        if self.ledger.store.get_transfer(transfer_id) is not None:
            return "already applied"
        for _ in range(3):
            record = self.repo.topup(record.topup_id)
            if record.shortfall:
                # Some refund of this charge could not be taken from the wallet: which one this
                # failed refund was is not known from running totals, so a person decides
                # rather than risk giving back money that was never taken.
                log.error("failed refund on a top-up with a shortfall", extra={"topup_id": record.topup_id})
                from chalicelib import observability

                observability.count("RefundNeedsAttention")
                return "shortfall"
            returned = int(record.refund_returned or 0)
            if returned + amount > int(record.refunded or 0):
                # The refund's claw-back has not been applied yet: redelivered after it.
                raise CreditNotYetApplied(record.topup_id)
            claim = self.repo.refund_return_put(record.topup_id, returned, returned + amount)
            if self.ledger.credit_from_system(CLEARING, record.wallet_id, Money(amount, record.currency),
                                              transfer_id, "refund", record=claim):
                return "refund returned"
            if self.ledger.store.get_transfer(transfer_id) is not None:
                return "already applied"
        raise EventRaced(record.topup_id)

    def _dispute_created(self, dispute: dict[str, Any]) -> str:
        return self._claw_back(dispute, dispute.get("payment_intent"), "disputed", int(dispute.get("amount") or 0),
                               "dispute", hold=True, transfer_key=str(dispute.get("id")))

    def _claw_back(self, obj: dict[str, Any], intent_id: Any, attribute: str, total: int, type_: str, *,
                   hold: bool, transfer_key: str) -> str:
        """Move (or hold) money back out of the wallet it was credited to, up to `total`."""
        for _ in range(3):
            record = self._topup_of(obj, str(intent_id) if intent_id else None)
            if record is None:
                return "unknown top-up"
            intent = record.payment_intent_id or intent_id
            if intent and self.ledger.store.get_transfer(deterministic_id("tp", str(intent))) is None:
                # Out of order: the credit has not happened yet. Fail, so the queue redelivers
                # this event after the payment_intent.succeeded one.
                raise CreditNotYetApplied(record.topup_id)
            done = int(getattr(record, attribute) or 0)
            if total <= done:
                return "already applied"
            claim = self.repo.claim_put(record.topup_id, attribute, done, total)
            try:
                moved = self.ledger.debit_to_system(
                    DISPUTES if hold else CLEARING, record.wallet_id, Money(total - done, record.currency),
                    deterministic_id("rf" if type_ == "refund" else "dp", transfer_key, str(total)), type_,
                    hold=hold, record=claim)
            except InsufficientFunds:
                # The money was spent: the wallet never goes negative, so this needs a person.
                log.error("refund/dispute shortfall", extra={"topup_id": record.topup_id, "type": type_})
                self.repo.flag_shortfall(record.topup_id, type_)
                from chalicelib import observability

                observability.count("RefundNeedsAttention")
                return "shortfall"
            if moved:
                return "applied"
        raise EventRaced(record.topup_id)

    def _payout_settled(self, payout: dict[str, Any], *, paid: bool) -> str:
        """Settle the withdrawal whose recorded payout id is this payout's id, and only if the
        amount and currency match: metadata alone settles nothing (anyone able to create a
        payout with our metadata must not be able to settle a withdrawal with it)."""
        payout_id = payout.get("id")
        w = self.repo.withdrawal_by_payout(payout_id) if isinstance(payout_id, str) and payout_id else None
        if w is None:
            named = (payout.get("metadata") or {}).get("withdrawal_id")
            pending = self.repo.withdrawal(named) if isinstance(named, str) and named else None
            if pending is not None and pending.payout_id == payout_id:
                w = pending  # the index has not caught up with the recorded id yet
            elif pending is not None and not pending.payout_id and pending.status in ("pending", "needs_attention"):
                # Stripe's event overtook our write of the payout id: redelivered later.
                raise PayoutNotYetRecorded(pending.withdrawal_id)
            else:
                return "unknown payout"
        if self.gateway.payout_amount(payout) != (int(w.amount), w.currency):
            log.error("payout amount/currency mismatch", extra={"withdrawal_id": w.withdrawal_id})
            from chalicelib import observability

            observability.count("PayoutMismatch")
            return "mismatch"
        if not paid:
            # Connect: the failed payout's money is back in the connected account, not ours.
            # Take it back first, so it is never both there and in the wallet.
            self._reverse_transfer(w)
        status = "paid" if paid else "failed"
        held = self.ledger.store.get_transfer(w.withdrawal_id)
        if held is not None and held.status == "pending":
            if self.ledger.resolve_hold(w.withdrawal_id, post=paid,
                                        record=self.repo.withdrawal_status_put(w.withdrawal_id, status)):
                return "paid" if paid else "voided"
            return "already settled"
        # Stripe documents that a paid payout can still fail: the bank sent the money back, so it
        # goes back to the wallet, once (conditional on the withdrawal still reading `paid`).
        if (not paid and held is not None and held.status == "posted" and w.status == "paid"
                and self.ledger.credit_from_system(PAYOUTS, w.wallet_id, Money(int(w.amount), w.currency),
                                                   deterministic_id("rv", str(payout_id)), "reversal",
                                                   record=self.repo.withdrawal_status_put(
                                                       w.withdrawal_id, "failed", from_=("paid",)))):
            return "reversed"
        return "already settled"

    def _reverse_transfer(self, w: Any) -> None:
        """In Connect mode, bring a withdrawal's transfer back from the connected account (once:
        the reversal's idempotency key is the withdrawal's, and its id is recorded)."""
        if self.gateway.platform_payouts or not w.stripe_transfer_id or w.reversal_id:
            return
        reversal_id = self.gateway.reverse_transfer(w.stripe_transfer_id, int(w.amount), w.withdrawal_id)
        self.repo.set_reversal(w.withdrawal_id, reversal_id)

    def _dispute_closed(self, dispute: dict[str, Any]) -> str:
        """A closed dispute resolves its hold: lost -> the money leaves, won -> it is released."""
        amount = int(dispute.get("amount") or 0)
        transfer_id = deterministic_id("dp", str(dispute.get("id")), str(amount))
        if self.ledger.store.get_transfer(transfer_id) is None:
            return "unknown dispute"
        lost = dispute.get("status") == "lost"
        return ("posted" if lost else "released") if self.ledger.resolve_hold(transfer_id, post=lost) else "already"


class CreditNotYetApplied(Exception):
    """A refund or dispute arrived before the top-up it concerns was credited: retry later."""


class EventRaced(Exception):
    """The event lost a race three times in a row: redelivered rather than dropped."""


class PayoutNotYetRecorded(Exception):
    """A payout event arrived before we recorded the payout's id on its withdrawal: retry later."""
