"""Top-ups: a PaymentIntent charged with the top-up's id as its key; the wallet is credited
only by the signed payment_intent.succeeded event (charges.py)."""
from __future__ import annotations

import logging

from chalicelib import observability
from chalicelib.domain.commands import AddMoney
from chalicelib.domain.errors import CardDeclined, InvalidRequest, NotFound, PaymentProviderError, ServiceUnavailable
from chalicelib.domain.funding import TopUp
from chalicelib.domain.ids import rfc3339
from chalicelib.domain.ledger import check_idempotency_key, deterministic_id
from chalicelib.domain.money import Money
from chalicelib.domain.results import TopUpView
from chalicelib.services.funding.common import RESUME_WITHIN, epoch
from chalicelib.services.funding.payment_methods import PaymentMethods
from chalicelib.services.replay import Outcome, reopen, same_request, seal, seal_error

log = logging.getLogger(__name__)

_INTENT_STATUS = {"requires_action": "requires_action", "requires_source_action": "requires_action",
                  "succeeded": "pending", "processing": "pending", "requires_capture": "pending",
                  "requires_confirmation": "pending", "requires_payment_method": "failed", "canceled": "failed"}


def topup_view(r: TopUp, *, status: str | None = None, intent_id: str | None = None,
               client_secret: str | None = None) -> TopUpView:
    """A top-up as the client sees it (and as its first answer is sealed)."""
    view: TopUpView = {"topup_id": r.topup_id, "status": status or r.status, "wallet_id": r.wallet_id,
                       "amount": r.amount, "currency": r.currency,
                       "provider_reference": intent_id or r.payment_intent_id, "created_at": r.created_at}
    if client_secret:
        view["client_secret"] = client_secret
    return view


class TopUps(PaymentMethods):
    def top_up(self, user_id: str, idempotency_key: str | None, command: AddMoney) -> Outcome[TopUpView]:
        key = check_idempotency_key(idempotency_key)
        topup_id = deterministic_id("tu", user_id, key)
        req_hash = self.ledger.request_hash("topups", command.as_request())
        existing = self.repo.topup(topup_id)
        if existing is not None:
            return self._topup_replay(existing, req_hash)
        wallet = self.ledger.wallet(user_id, command.wallet_id)
        amount = Money(command.amount, wallet.currency)
        self.ledger.check_maximum(amount)
        pm = self._own_pm(user_id, command.payment_method_id)
        record = TopUp(topup_id=topup_id, user_id=user_id, wallet_id=wallet.wallet_id,
                       payment_method_id=pm.payment_method_id, amount=amount.amount, currency=amount.currency,
                       request_hash=req_hash, created_at=rfc3339(self.now()))
        if not self.repo.claim_topup(record):  # a concurrent request with the same key
            again = self.repo.topup(topup_id)
            if again is None:
                raise ServiceUnavailable()
            return self._topup_replay(again, req_hash)
        return self._charge(record, pm.stripe_pm_id)

    def _charge(self, record: TopUp, stripe_pm_id: str) -> Outcome[TopUpView]:
        """Call Stripe for a claimed top-up (first time, or resuming after a crash/timeout)."""
        try:
            intent = self.gateway.charge(amount=record.amount, currency=record.currency,
                                         customer_id=self.customer(record.user_id), stripe_pm_id=stripe_pm_id,
                                         metadata={"topup_id": record.topup_id, "user_id": record.user_id,
                                                   "wallet_id": record.wallet_id},
                                         key=record.topup_id)
        except (CardDeclined, PaymentProviderError, InvalidRequest) as err:
            # Remembered like a success, so a retry with the same key gets the same answer.
            self.repo.record_charge(record.topup_id, None, "failed", None, seal_error(self.cipher, record.user_id, err))
            raise
        recorded = self.repo.topup(record.topup_id)
        if recorded is not None and recorded.payment_intent_id and recorded.payment_intent_id != intent.id:
            # Another intent was recorded meanwhile (by its signed event, charges.py): the
            # top-up's money is that intent's, and a recorded intent is never replaced.
            log.error("create call answered another payment intent than the recorded one",
                      extra={"topup_id": record.topup_id})
            observability.count("RefundNeedsAttention")
            if recorded.response_ct:
                return reopen(self.cipher, recorded.user_id, recorded.response_ct)
            return Outcome(self._topup_view(recorded, status="pending"))
        status = _INTENT_STATUS.get(intent.status, "pending")
        secret = intent.client_secret if status == "requires_action" else None
        view = self._topup_view(record, status=status, intent_id=intent.id, client_secret=secret)
        self.repo.record_charge(record.topup_id, intent.id, status,
                                self.cipher.encrypt(secret, record.user_id, "client_secret") if secret else None,
                                seal(self.cipher, record.user_id, view))
        return Outcome(view)

    def _topup_replay(self, record: TopUp, req_hash: str) -> Outcome[TopUpView]:
        same_request(record.request_hash, req_hash)
        if not record.response_ct:  # crashed or timed out before Stripe answered
            if self.now() - epoch(record.created_at) > RESUME_WITHIN:
                # Stripe keeps idempotency keys 24 h: charging again could charge twice. If the
                # first charge went through, its signed webhook records its intent on the top-up
                # (found by metadata) and credits it anyway (charges.py).
                return Outcome(self._topup_view(record, status="pending"), replayed=True)
            pm = self.repo.payment_method(record.payment_method_id)
            if pm is None:
                raise ServiceUnavailable()
            return self._charge(record, pm.stripe_pm_id)
        return reopen(self.cipher, record.user_id, record.response_ct)

    def _topup_view(self, r: TopUp, *, status: str | None = None, intent_id: str | None = None,
                    client_secret: str | None = None) -> TopUpView:
        return topup_view(r, status=status, intent_id=intent_id, client_secret=client_secret)

    def get_topup(self, user_id: str, topup_id: str) -> TopUpView:
        r = self.repo.topup(topup_id)
        if r is None or r.user_id != user_id:
            raise NotFound("The top-up was not found.")
        status = "pending" if r.status == "creating" else r.status
        secret = (self.cipher.decrypt(r.client_secret_ct, r.user_id, "client_secret")
                  if r.client_secret_ct and status == "requires_action" else None)
        return self._topup_view(r, status=status, client_secret=secret)
