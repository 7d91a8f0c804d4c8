"""Stripe-side records: customers, payment methods, top-ups, withdrawals, payout accounts."""
from __future__ import annotations

from dataclasses import MISSING, asdict, fields
from typing import Any, TypeVar

from chalicelib.adapters.dynamodb.models import PaymentMethodRecord, TopUpRecord, UserRecord, WithdrawalRecord, written
from chalicelib.domain.funding import (
    FundingProfile,
    PaymentMethod,
    TopUp,
    Withdrawal,
)

_R = TypeVar("_R")


def _to(kind: type[_R], record: Any) -> _R:
    """A row as the domain record of the same fields (numbers as ints or floats, unset as None)."""
    values = {}
    for f in fields(kind):  # type: ignore[arg-type]
        v = getattr(record, f.name, None)
        if isinstance(v, float) and f.type in ("int", int):
            v = int(v)
        values[f.name] = v if v is not None else f.default if f.default is not MISSING else None
    return kind(**values)


class DynamoFunding:
    """The PynamoDB models must be bound to the stage's tables first (tables.bind)."""

    # -- customers and payout accounts ----------------------------------------------------------
    def user(self, user_id: str) -> FundingProfile | None:
        r = UserRecord.find(user_id)
        if r is None:
            return None
        return FundingProfile(r.user_id, r.stripe_customer_id, r.payout_account_id, r.payout_status,
                              r.status or "active")

    def set_customer(self, user_id: str, customer_id: str) -> str:
        """Store the user's Stripe customer once; the one stored first wins a race."""
        if written(lambda: UserRecord(user_id=user_id).update(
                actions=[UserRecord.stripe_customer_id.set(customer_id)],
                condition=UserRecord.user_id.exists() & UserRecord.stripe_customer_id.does_not_exist())):
            return customer_id
        profile = self.user(user_id)
        return str(profile.stripe_customer_id) if profile and profile.stripe_customer_id else customer_id

    def set_payout_account(self, user_id: str, account_id: str | None, status: str) -> None:
        actions: list[Any] = [UserRecord.payout_status.set(status)]
        if account_id:
            actions.append(UserRecord.payout_account_id.set(account_id))
        UserRecord(user_id=user_id).update(actions=actions, condition=UserRecord.user_id.exists())

    # -- payment methods ------------------------------------------------------------------------
    def add_payment_method(self, pm: PaymentMethod, *, reattach: bool = False) -> None:
        """Store a newly attached card; `reattach` overwrites a detached one of the same id."""
        record = PaymentMethodRecord(**asdict(pm))
        if reattach:
            record.save()
        else:
            record.save(condition=PaymentMethodRecord.payment_method_id.does_not_exist())

    def payment_method(self, payment_method_id: str) -> PaymentMethod | None:
        r = PaymentMethodRecord.find(payment_method_id)
        return _to(PaymentMethod, r) if r else None

    def payment_methods_of(self, user_id: str) -> list[PaymentMethod]:
        return [_to(PaymentMethod, r) for r in PaymentMethodRecord.by_user.query(user_id) if r.status == "active"]

    def detach(self, payment_method_id: str) -> bool:
        return written(lambda: PaymentMethodRecord(payment_method_id=payment_method_id).update(
            actions=[PaymentMethodRecord.status.set("detached")],
            condition=PaymentMethodRecord.status == "active"))

    # -- top-ups --------------------------------------------------------------------------------
    def claim_topup(self, topup: TopUp) -> bool:
        """Create the top-up; False if one with this id (same user + key) exists."""
        record = TopUpRecord(**{k: v for k, v in asdict(topup).items() if v is not None})
        return written(lambda: record.save(condition=TopUpRecord.topup_id.does_not_exist()))

    def topup(self, topup_id: str) -> TopUp | None:
        r = TopUpRecord.find(topup_id)
        return _to(TopUp, r) if r else None

    def topup_by_intent(self, payment_intent_id: str) -> TopUp | None:
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
        if not written(lambda: TopUpRecord(topup_id=topup_id).update(
                actions=[*base, TopUpRecord.status.set(status)], condition=TopUpRecord.status == "creating")):
            TopUpRecord(topup_id=topup_id).update(actions=base)

    def set_topup_status(self, topup_id: str, status: str, unless: tuple[str, ...] = ()) -> bool:
        condition = TopUpRecord.topup_id.exists()
        for s in unless:
            condition &= TopUpRecord.status != s
        return written(lambda: TopUpRecord(topup_id=topup_id).update(
            actions=[TopUpRecord.status.set(status)], condition=condition))

    # -- withdrawals ----------------------------------------------------------------------------
    def withdrawal(self, withdrawal_id: str) -> Withdrawal | None:
        r = WithdrawalRecord.find(withdrawal_id)
        return _to(Withdrawal, r) if r else None

    def withdrawal_by_payout(self, payout_id: str) -> Withdrawal | None:
        for record in WithdrawalRecord.by_payout.query(payout_id):
            return self.withdrawal(record.withdrawal_id)
        return None

    def mark_attempt(self, withdrawal_id: str, user_id: str, call: str, when: float,
                     first: float | None = None) -> bool:
        """Before each Stripe call that sends the money out: from now on a missing id means
        "look it up", not "never sent", and the first `when` starts the idempotency key's window.
        One transaction with the check that the owner is not frozen, so a freeze and a claim are
        ordered: a freeze that committed first stops every later call (docs/operations.md)."""
        from pynamodb.exceptions import TransactWriteError

        from chalicelib.adapters.dynamodb.connection import reason_codes, transact

        attr = WithdrawalRecord.transfer_attempted_at if call == "transfer" else WithdrawalRecord.payout_attempted_at
        condition = (WithdrawalRecord.status == "pending") & WithdrawalRecord.payout_barred_at.does_not_exist()
        condition &= attr.does_not_exist() if first is None else attr == first

        def write(tx: Any) -> None:
            tx.condition_check(UserRecord, user_id, condition=UserRecord.user_id.exists() & (
                UserRecord.status.does_not_exist() | ~UserRecord.status.is_in("frozen", "closed")))
            tx.update(WithdrawalRecord(withdrawal_id=withdrawal_id),
                      actions=[attr.set(when if first is None else first)], condition=condition)

        try:
            transact(write)
        except TransactWriteError as exc:  # transact raised it: not contention
            if "ConditionalCheckFailed" in reason_codes(exc):
                return False
            raise
        return True

    def bar_payout(self, withdrawal_id: str) -> bool:
        return written(lambda: WithdrawalRecord(withdrawal_id=withdrawal_id).update(
            actions=[WithdrawalRecord.payout_barred_at.set(WithdrawalRecord.payout_barred_at | 1)],
            condition=(WithdrawalRecord.status == "pending") & WithdrawalRecord.payout_attempted_at.does_not_exist()
            & (WithdrawalRecord.transfer_attempted_at.does_not_exist()
               | WithdrawalRecord.stripe_transfer_id.exists())))

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
        return written(lambda: WithdrawalRecord(withdrawal_id=withdrawal_id).update(
            actions=actions, condition=WithdrawalRecord.status == "pending"))

    def stuck_withdrawals(self, created_before: str) -> list[Withdrawal]:
        """Pending withdrawals without a payout, created before the given time."""
        return [_to(Withdrawal, r) for r in WithdrawalRecord.scan(
            (WithdrawalRecord.status == "pending") & WithdrawalRecord.payout_id.does_not_exist()
            & (WithdrawalRecord.created_at < created_before), consistent_read=True)]

    def claim_resolution(self, withdrawal_id: str, outcome: str) -> bool:
        """A person's decision about a withdrawal that needs attention, recorded before anything
        is done about it: of two operators deciding differently, only the first acts, and the
        one who decided can run the command again after a crash."""
        return written(lambda: WithdrawalRecord(withdrawal_id=withdrawal_id).update(
            actions=[WithdrawalRecord.resolution.set(outcome)],
            condition=(WithdrawalRecord.status == "needs_attention")
            & (WithdrawalRecord.resolution.does_not_exist() | (WithdrawalRecord.resolution == outcome))))

    def withdrawals_with_status(self, status: str) -> list[Withdrawal]:
        """Every withdrawal in a status, oldest first (an operator's list: a scan)."""
        found = WithdrawalRecord.scan(WithdrawalRecord.status == status, consistent_read=True)
        return sorted((_to(Withdrawal, r) for r in found), key=lambda w: w.created_at)

    def topups_since(self, created_from: str) -> list[TopUp]:
        """Top-ups created at or after a time (reconciliation with Stripe: a scan)."""
        return [_to(TopUp, r) for r in TopUpRecord.scan(TopUpRecord.created_at >= created_from,
                                                        consistent_read=True)]

    def flag_shortfall(self, topup_id: str, kind: str) -> None:
        TopUpRecord(topup_id=topup_id).update(actions=[TopUpRecord.shortfall.set(kind)])

    def keep_withdrawal_answer(self, withdrawal_id: str, response_ct: str) -> bool:
        """Store the first complete answer; a later one never replaces it."""
        return written(lambda: WithdrawalRecord(withdrawal_id=withdrawal_id).update(
            actions=[WithdrawalRecord.response_ct.set(response_ct)],
            condition=WithdrawalRecord.response_ct.does_not_exist()))
