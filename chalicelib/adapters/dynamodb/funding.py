"""Stripe-side records: customers, payment methods, top-ups, withdrawals, payout accounts."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chalicelib.adapters.dynamodb.models import PaymentMethodRecord, TopUpRecord, UserRecord, WithdrawalRecord
from chalicelib.config import Settings
from chalicelib.domain.funding import NewPaymentMethod, NewTopUp


def _conditional(fn: Any) -> bool:
    """Run a PynamoDB write; False when its condition did not hold."""
    from pynamodb.exceptions import PutError, UpdateError

    try:
        fn()
    except (PutError, UpdateError) as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


class DynamoFunding:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings  # the models are bound to its tables (tables.bind)

    # -- customers and payout accounts ----------------------------------------------------------
    def user(self, user_id: str) -> UserRecord | None:
        try:
            return UserRecord.get(user_id, consistent_read=True)
        except UserRecord.DoesNotExist:
            return None

    def set_customer(self, user_id: str, customer_id: str) -> str:
        """Store the user's Stripe customer once; the one stored first wins a race."""
        if _conditional(lambda: UserRecord(user_id=user_id).update(
                actions=[UserRecord.stripe_customer_id.set(customer_id)],
                condition=UserRecord.user_id.exists() & UserRecord.stripe_customer_id.does_not_exist())):
            return customer_id
        record = self.user(user_id)
        return str(record.stripe_customer_id) if record and record.stripe_customer_id else customer_id

    def set_payout_account(self, user_id: str, account_id: str | None, status: str) -> None:
        actions: list[Any] = [UserRecord.payout_status.set(status)]
        if account_id:
            actions.append(UserRecord.payout_account_id.set(account_id))
        UserRecord(user_id=user_id).update(actions=actions, condition=UserRecord.user_id.exists())

    # -- payment methods ------------------------------------------------------------------------
    def add_payment_method(self, pm: NewPaymentMethod, *, reattach: bool = False) -> None:
        """Store a newly attached card; `reattach` overwrites a detached one of the same id."""
        record = PaymentMethodRecord(**asdict(pm))
        if reattach:
            record.save()
        else:
            record.save(condition=PaymentMethodRecord.payment_method_id.does_not_exist())

    def payment_method(self, payment_method_id: str) -> PaymentMethodRecord | None:
        try:
            return PaymentMethodRecord.get(payment_method_id, consistent_read=True)
        except PaymentMethodRecord.DoesNotExist:
            return None

    def payment_methods_of(self, user_id: str) -> list[PaymentMethodRecord]:
        return [r for r in PaymentMethodRecord.by_user.query(user_id) if r.status == "active"]

    def detach(self, payment_method_id: str) -> bool:
        return _conditional(lambda: PaymentMethodRecord(payment_method_id=payment_method_id).update(
            actions=[PaymentMethodRecord.status.set("detached")],
            condition=PaymentMethodRecord.status == "active"))

    # -- top-ups --------------------------------------------------------------------------------
    def claim_topup(self, topup: NewTopUp) -> bool:
        """Create the top-up; False if one with this id (same user + key) exists."""
        record = TopUpRecord(**{k: v for k, v in asdict(topup).items() if v is not None})
        return _conditional(lambda: record.save(condition=TopUpRecord.topup_id.does_not_exist()))

    def topup(self, topup_id: str) -> TopUpRecord | None:
        try:
            return TopUpRecord.get(topup_id, consistent_read=True)
        except TopUpRecord.DoesNotExist:
            return None

    def topup_by_intent(self, payment_intent_id: str) -> TopUpRecord | None:
        for record in TopUpRecord.by_intent.query(payment_intent_id):
            return self.topup(record.topup_id)
        return None

    def record_charge(self, topup_id: str, intent_id: str | None, status: str, client_secret_ct: str | None,
                      response_ct: str) -> None:
        """After Stripe answered: keep the intent and our answer; move the status only if no
        event moved it yet (the webhook may arrive before this write)."""
        base: list[Any] = [TopUpRecord.response_ct.set(response_ct)]
        if intent_id:
            base.append(TopUpRecord.payment_intent_id.set(intent_id))
        if client_secret_ct:
            base.append(TopUpRecord.client_secret_ct.set(client_secret_ct))
        if not _conditional(lambda: TopUpRecord(topup_id=topup_id).update(
                actions=[*base, TopUpRecord.status.set(status)], condition=TopUpRecord.status == "creating")):
            TopUpRecord(topup_id=topup_id).update(actions=base)

    def set_topup_status(self, topup_id: str, status: str, unless: tuple[str, ...] = ()) -> bool:
        condition = TopUpRecord.topup_id.exists()
        for s in unless:
            condition &= TopUpRecord.status != s
        return _conditional(lambda: TopUpRecord(topup_id=topup_id).update(
            actions=[TopUpRecord.status.set(status)], condition=condition))

    def advance(self, topup_id: str, attribute: str, old: int, new: int) -> bool:
        """Move a cumulative amount (refunded, disputed) from `old` to `new`, once."""
        attr = getattr(TopUpRecord, attribute)
        return _conditional(lambda: TopUpRecord(topup_id=topup_id).update(
            actions=[attr.set(new)], condition=attr == old))

    # -- withdrawals ----------------------------------------------------------------------------
    def withdrawal(self, withdrawal_id: str) -> WithdrawalRecord | None:
        try:
            return WithdrawalRecord.get(withdrawal_id, consistent_read=True)
        except WithdrawalRecord.DoesNotExist:
            return None

    def withdrawal_by_payout(self, payout_id: str) -> WithdrawalRecord | None:
        for record in WithdrawalRecord.by_payout.query(payout_id):
            return self.withdrawal(record.withdrawal_id)
        return None

    def mark_attempt(self, withdrawal_id: str, call: str, when: float) -> None:
        """Before calling Stripe the first time: from now on a missing id means "look it up",
        not "never sent", and `when` starts the idempotency key's window."""
        attr = WithdrawalRecord.transfer_attempted_at if call == "transfer" else WithdrawalRecord.payout_attempted_at
        WithdrawalRecord(withdrawal_id=withdrawal_id).update(actions=[attr.set(attr | when)])

    def set_stripe_transfer(self, withdrawal_id: str, transfer_id: str) -> None:
        WithdrawalRecord(withdrawal_id=withdrawal_id).update(
            actions=[WithdrawalRecord.stripe_transfer_id.set(transfer_id)])

    def set_reversal(self, withdrawal_id: str, reversal_id: str) -> None:
        WithdrawalRecord(withdrawal_id=withdrawal_id).update(actions=[WithdrawalRecord.reversal_id.set(reversal_id)])

    def set_payout(self, withdrawal_id: str, payout_id: str) -> None:
        WithdrawalRecord(withdrawal_id=withdrawal_id).update(actions=[WithdrawalRecord.payout_id.set(payout_id)])

    def set_withdrawal_status(self, withdrawal_id: str, status: str, reason: str | None = None) -> bool:
        """Move a pending withdrawal to `status` (needs_attention, with its reason)."""
        actions: list[Any] = [WithdrawalRecord.status.set(status)]
        if reason:
            actions.append(WithdrawalRecord.attention_reason.set(reason))
        return _conditional(lambda: WithdrawalRecord(withdrawal_id=withdrawal_id).update(
            actions=actions, condition=WithdrawalRecord.status == "pending"))

    def stuck_withdrawals(self, created_before: str) -> list[WithdrawalRecord]:
        """Pending withdrawals without a payout, created before the given time."""
        return list(WithdrawalRecord.scan(
            (WithdrawalRecord.status == "pending") & WithdrawalRecord.payout_id.does_not_exist()
            & (WithdrawalRecord.created_at < created_before), consistent_read=True))

    def flag_shortfall(self, topup_id: str, kind: str) -> None:
        TopUpRecord(topup_id=topup_id).update(actions=[TopUpRecord.shortfall.set(kind)])

    def keep_withdrawal_answer(self, withdrawal_id: str, response_ct: str) -> bool:
        """Store the first complete answer; a later one never replaces it."""
        return _conditional(lambda: WithdrawalRecord(withdrawal_id=withdrawal_id).update(
            actions=[WithdrawalRecord.response_ct.set(response_ct)],
            condition=WithdrawalRecord.response_ct.does_not_exist()))
