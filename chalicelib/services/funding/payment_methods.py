"""Cards and bank accounts attached through Stripe (their numbers never reach us)."""
from __future__ import annotations

import json
import logging

from chalicelib.domain.errors import NotFound
from chalicelib.domain.funding import PaymentMethod
from chalicelib.domain.ids import rfc3339
from chalicelib.domain.ledger import deterministic_id
from chalicelib.domain.results import CardView, PaymentMethodView, SetupIntentView
from chalicelib.services.funding.common import FundingBase

log = logging.getLogger(__name__)


class PaymentMethods(FundingBase):
    def setup_intent(self, user_id: str) -> SetupIntentView:
        intent = self.gateway.create_setup_intent(self.customer(user_id), deterministic_id(
            "seti", user_id, str(self.now())))
        return {"setup_intent_id": intent.id, "client_secret": intent.client_secret}

    def add_payment_method(self, user_id: str, stripe_pm_id: str) -> PaymentMethodView:
        pm_id = deterministic_id("pmt", user_id, stripe_pm_id)
        existing = self.repo.payment_method(pm_id)
        if existing is not None and existing.status == "active":
            return self._pm_view(existing)
        card = self.gateway.attach_payment_method(stripe_pm_id, self.customer(user_id))
        details: CardView = {"brand": card.brand, "last4": card.last4, "exp_month": card.exp_month,
                             "exp_year": card.exp_year}
        record = PaymentMethod(
            payment_method_id=pm_id, user_id=user_id, stripe_pm_id=card.stripe_id, type=card.type,
            details_ct=self.cipher.encrypt(json.dumps(details), user_id, "payment_method"),
            created_at=rfc3339(self.now()))
        self.repo.add_payment_method(record, reattach=existing is not None)
        return self._pm_view(record)

    def _pm_view(self, r: PaymentMethod) -> PaymentMethodView:
        # Stored as written by add_payment_method (the JSON edge of the encrypted field).
        details: CardView = json.loads(self.cipher.decrypt(r.details_ct, r.user_id, "payment_method"))
        return {"payment_method_id": r.payment_method_id, "type": r.type, **details, "created_at": r.created_at}

    def payment_methods(self, user_id: str) -> list[PaymentMethodView]:
        return [self._pm_view(r) for r in self.repo.payment_methods_of(user_id)]

    def _own_pm(self, user_id: str, pm_id: str) -> PaymentMethod:
        r = self.repo.payment_method(pm_id)
        if r is None or r.user_id != user_id or r.status != "active":
            raise NotFound("The payment method was not found.")
        return r

    def remove_payment_method(self, user_id: str, pm_id: str) -> None:
        r = self._own_pm(user_id, pm_id)
        self.gateway.detach_payment_method(r.stripe_pm_id)
        self.repo.detach(pm_id)
