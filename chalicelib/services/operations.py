"""The operators' use cases (`python -m ops`): look a user up, freeze or unfreeze an account,
resolve a withdrawal that waits for a person, reverse a payment, reconcile, read the audit log.

Everything goes through the same services and transactions as the API, and every change is
written in ONE transaction with its audit record (`Audited`); a command that changes nothing
(already frozen, already settled) is recorded too, as `no_change`. docs/operations.md.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.commands import Address
from chalicelib.domain.errors import Conflict, InvalidRequest, NotFound, ServiceUnavailable
from chalicelib.domain.funding import TopUp, Withdrawal
from chalicelib.domain.ids import new_id, rfc3339
from chalicelib.domain.ledger import DuplicateRequest, reversal_id
from chalicelib.domain.results import (
    AuditView,
    CreditsSpread,
    HoldView,
    LedgerVerified,
    OperatorTransferView,
    OperatorWithdrawalView,
    ReconcileReport,
    Reversed,
    StatusChanged,
    TopupMismatch,
    TopupsCompared,
    Unchanged,
    UserReport,
    WithdrawalResolved,
)
from chalicelib.domain.unit_of_work import AccountStatusChange, Audited
from chalicelib.domain.wallet import Wallet
from chalicelib.services.funding.common import topup_credit_id
from chalicelib.services.funding.withdrawals import Withdrawals
from chalicelib.services.identity import decrypted_profile
from chalicelib.services.ledger import Ledger, wallet_view
from chalicelib.services.ports import Clock, FieldCipher, UserDirectory
from chalicelib.services.reconcile import reconcile

RECENT_TRANSFERS = 10  # per wallet, in `user show`
STRIPE_WINDOW = 86400  # `reconcile` compares the last day's top-ups with Stripe


class FundingRecords(Protocol):
    """The operator's reads of withdrawals and top-ups (scans: fine for a person's command)."""

    def withdrawal(self, withdrawal_id: str) -> Withdrawal | None: ...

    def withdrawals_with_status(self, status: str) -> list[Withdrawal]: ...

    def topups_since(self, created_from: str) -> list[TopUp]: ...


class PaymentIntents(Protocol):
    def payment_intent(self, intent_id: str) -> tuple[int, str, str]:
        """(amount, currency, status) of a PaymentIntent at the provider now."""


class AuditLog(Protocol):
    def since(self, at: str) -> Iterable[AuditEntry]: ...


class LedgerScans(Protocol):
    """What the invariant report reads (the whole ledger) and an operator's view of holds."""

    def scan_wallets(self) -> Iterable[Any]: ...

    def scan_entries(self) -> Iterable[Any]: ...

    def scan_transfers(self) -> Iterable[Any]: ...

    def pending_debits(self, wallet_id: str) -> list[Any]: ...


@dataclass
class Operations:
    ledger: Ledger
    scans: LedgerScans
    offline: Any  # the allowances' store, for their invariants
    users: UserDirectory
    withdrawals: Withdrawals
    repo: FundingRecords
    gateway: PaymentIntents
    audit_log: AuditLog
    cipher: FieldCipher
    actor: str  # who runs the command (the caller's IAM identity)
    now: Clock = time.time
    # Recomputes the chains and checkpoints (services.statements.Statements.verify_ledger).
    verify_chains: Callable[[], LedgerVerified] | None = None

    # -- audit ----------------------------------------------------------------------------------
    def _entry(self, command: str, target: str, reason: str | None, outcome: str, before: dict[str, Any] | None,
               after: dict[str, Any] | None) -> AuditEntry:
        """An audit record; a change (every outcome but `read`) needs the operator's reason."""
        reason = (reason or "").strip()
        if not reason and outcome != "read":
            raise InvalidRequest("A reason is required for every change (--reason).")
        audit_id = new_id("au")
        return AuditEntry(audit_id=audit_id, at=rfc3339(self.now()), actor=self.actor, command=command,
                          target=target, outcome=outcome, before=before, after=after,
                          reason_ct=self.cipher.encrypt(reason, audit_id, "reason") if reason else None)

    def record(self, command: str, target: str, *, reason: str | None = None, refused: str | None = None) -> str:
        """Record a read (personal data shown to an operator is an access worth a trace) or a
        change refused with an error code; the audit id."""
        outcome = "read" if refused is None else "refused"
        entry = self._entry(command, target, reason, outcome, None, {"error": refused} if refused else None)
        self.ledger.store.write(Audited(None, entry), now=entry.at)
        return entry.audit_id

    def _unchanged(self, command: str, target: str, reason: str, state: dict[str, Any],
                   restate: AccountStatusChange | None = None) -> Unchanged:
        """Record a command that found nothing to change, and say so. `restate` writes again
        what is already true (an account's status), so everything derived from it agrees."""
        entry = self._entry(command, target, reason, "no_change", state, state)
        self.ledger.store.write(Audited(restate, entry), now=entry.at)
        return {"changed": False, "audit_id": entry.audit_id, "state": state}

    def audit(self, since: str) -> list[AuditView]:
        return [{"audit_id": e.audit_id, "at": e.at, "actor": e.actor, "command": e.command, "target": e.target,
                 "outcome": e.outcome, "before": e.before, "after": e.after,
                 "reason": self.cipher.decrypt(e.reason_ct, e.audit_id, "reason") if e.reason_ct else None}
                for e in self.audit_log.since(since)]

    # -- users ----------------------------------------------------------------------------------
    def find_user(self, *, email: str | None = None, user_id: str | None = None) -> str:
        if email:  # the same look-up as paying an e-mail, verified or not
            user_id = self.users.user_id_for(self.ledger.contact_of(Address("email", email), "email").contact_key)
        if not user_id or self.users.get(user_id) is None:
            raise NotFound("No such user.")
        return user_id

    def show_user(self, user_id: str) -> UserReport:
        user = self.users.get(user_id)
        if user is None:
            raise NotFound("No such user.")
        wallets = self.ledger.wallets(user_id)
        return {"user": {**asdict(decrypted_profile(user, self.cipher)), "status": user.status},
                "wallets": [{**wallet_view(w), "credit_shards": w.credit_shards} for w in wallets],
                "holds": [self._hold_view(e) for w in wallets for e in self.scans.pending_debits(w.wallet_id)],
                "transfers": self._recent_transfers(wallets)}

    @staticmethod
    def _hold_view(e: Any) -> HoldView:
        return {"transfer_id": e.transfer_id, "type": e.type, "wallet_id": e.wallet_id, "amount": e.amount,
                "currency": e.currency, "created_at": e.created_at}

    def _recent_transfers(self, wallets: list[Wallet]) -> list[OperatorTransferView]:
        seen: dict[str, OperatorTransferView] = {}
        for w in wallets:
            entries, _ = self.ledger.store.entries(w.wallet_id, RECENT_TRANSFERS)
            for e in entries:
                t = self.ledger.store.get_transfer(e.transfer_id)
                if t is not None and t.transfer_id not in seen:
                    seen[t.transfer_id] = {**self.ledger.transfer_view(t), "from_owner": t.from_owner,
                                           "to_owner": t.to_owner}
        return sorted(seen.values(), key=lambda t: t["created_at"], reverse=True)

    def set_frozen(self, user_id: str, frozen: bool, reason: str) -> StatusChanged | Unchanged:
        """Freeze (or unfreeze) an account: while frozen, every way its owner sends money out
        (payments, invitations, withdrawals, offline allowances, paying requests) is refused
        inside the payment's own transaction; money still comes in."""
        command = "freeze" if frozen else "unfreeze"
        user = self.users.get(user_id)
        if user is None:
            raise NotFound("No such user.")
        wanted, other = ("frozen", "active") if frozen else ("active", "frozen")
        if user.status == wanted:
            # Written again as it is: the item every payment checks then agrees, even if a
            # previous version changed the status without it (docs/capacity.md).
            try:
                return self._unchanged(command, user_id, reason, {"status": user.status},
                                       AccountStatusChange(user_id, wanted, from_=wanted))
            except DuplicateRequest:
                raise Conflict("The account changed meanwhile; run the command again.") from None
        if user.status != other:
            raise Conflict(f"The account is {user.status}: only an {other} account can be {command}d.")
        entry = self._entry(command, user_id, reason, "done", {"status": user.status}, {"status": wanted})
        try:
            self.ledger.store.write(Audited(AccountStatusChange(user_id, wanted, from_=user.status), entry),
                                    now=entry.at)
        except DuplicateRequest:
            raise Conflict("The account changed meanwhile; run the command again.") from None
        return {"changed": True, "audit_id": entry.audit_id, "user_id": user_id, "status": wanted}

    # -- withdrawals ----------------------------------------------------------------------------
    def withdrawals_in(self, status: str) -> list[OperatorWithdrawalView]:
        return [self._withdrawal(w) for w in self.repo.withdrawals_with_status(status)]

    def _withdrawal(self, w: Withdrawal) -> OperatorWithdrawalView:
        return {**self.withdrawals.withdrawal_view(w), "user_id": w.user_id, "attention_reason": w.attention_reason,
                "stripe_transfer_id": w.stripe_transfer_id, "reversal_id": w.reversal_id,
                "transfer_attempted_at": _time(w.transfer_attempted_at),
                "payout_attempted_at": _time(w.payout_attempted_at)}

    def resolve_withdrawal(self, withdrawal_id: str, outcome: str, reason: str) -> WithdrawalResolved | Unchanged:
        """After a person has checked Stripe: `paid` posts the hold, `failed` voids it. Only a
        withdrawal that waits for a person; exactly once."""
        if outcome not in ("paid", "failed"):
            raise InvalidRequest("The outcome is paid or failed.")
        w = self.repo.withdrawal(withdrawal_id)
        if w is None:
            raise NotFound("No such withdrawal.")
        before = {"status": w.status, "amount": w.amount, "currency": w.currency}
        if w.status in ("paid", "failed"):
            return self._unchanged("withdrawal resolve", withdrawal_id, reason, before)
        if w.status != "needs_attention":
            raise Conflict(f"The withdrawal is {w.status}: only one that needs attention is resolved by hand.")
        entry = self._entry("withdrawal resolve", withdrawal_id, reason, "done", before, {**before, "status": outcome})
        if not self.withdrawals.resolve_attention(w, paid=outcome == "paid", audit=entry):
            return self._unchanged("withdrawal resolve", withdrawal_id, reason, before)
        settled = self.repo.withdrawal(withdrawal_id)
        return {"changed": True, "audit_id": entry.audit_id,
                "withdrawal": self._withdrawal(settled) if settled else None}

    # -- payments -------------------------------------------------------------------------------
    def reverse(self, transfer_id: str, reason: str, allow_negative: bool = False) -> Reversed | Unchanged:
        """A compensating transfer from the recipient back to the sender."""
        original = self.ledger.store.get_transfer(transfer_id)
        if original is None:
            raise NotFound("No such transfer.")
        before = {"transfer_id": transfer_id, "status": original.status, "amount": original.amount,
                  "currency": original.currency, "from_wallet_id": original.from_wallet_id,
                  "to_wallet_id": original.to_wallet_id}
        entry = self._entry("reverse", transfer_id, reason, "done", before, {"reversal_id": reversal_id(transfer_id)})
        reversal = self.ledger.reverse(transfer_id, record=Audited(None, entry), allow_negative=allow_negative)
        if reversal is None:
            return self._unchanged("reverse", transfer_id, reason, before)
        return {"changed": True, "audit_id": entry.audit_id, "reversal": self.ledger.transfer_view(reversal)}

    def spread_credits(self, wallet_id: str, shards: int, reason: str) -> CreditsSpread:
        """Make a wallet high-volume (docs/hot-wallets.md), with its audit record in the same
        transaction (at most 34 items)."""
        wallet = self.ledger.store.get_wallet(wallet_id)
        if wallet is None or wallet.kind != "user":
            raise NotFound("No such wallet.")
        before = {"credit_shards": wallet.credit_shards}
        entry = self._entry("wallet spread", wallet_id, reason, "done", before, {"credit_shards": shards})
        self.ledger.spread_credits(wallet_id, shards, record=Audited(None, entry))
        return {"changed": True, "audit_id": entry.audit_id, "wallet_id": wallet_id, "credit_shards": shards}

    # -- reconciliation -------------------------------------------------------------------------
    def verify_ledger(self) -> LedgerVerified:
        """Every chain and checkpoint recomputed (docs/statements.md): `intact`, else the first
        entry changed, removed or inserted outside the service."""
        if self.verify_chains is None:
            raise AssertionError("built without the chains to verify")
        return self.verify_chains()

    def reconcile(self) -> ReconcileReport:
        """The scheduled job's invariant report, now, plus the last day's top-ups compared with
        their PaymentIntents at Stripe: amount, currency, status, and the ledger's credit."""
        report = reconcile(self.scans, offline=self.offline, now=self.now())
        stripe = self._compare_topups(rfc3339(self.now() - STRIPE_WINDOW))
        return {"ok": report.ok and not stripe["mismatches"] and not stripe["unchecked"],
                "ledger": {"ok": report.ok, "wallets": report.wallets, "transfers": report.transfers,
                           "entries": report.entries, "totals": report.totals, "drift": report.drift,
                           "stale_holds": report.stale_holds},
                # What the exchange accounts hold per currency (their position: what customers
                # sold them less what they paid out) and the spread earned, per currency.
                "exchange": {"positions": report.fx_positions, "revenue": report.fx_revenue},
                "stripe": stripe}

    def _compare_topups(self, since: str) -> TopupsCompared:
        checked, mismatches, unchecked = 0, list[TopupMismatch](), list[str]()
        for t in self.repo.topups_since(since):
            if not t.payment_intent_id:
                continue  # Stripe was never reached (or refused at once): nothing there to compare
            try:
                amount, currency, status = self.gateway.payment_intent(t.payment_intent_id)
            except ServiceUnavailable:
                unchecked.append(t.topup_id)
                continue
            checked += 1
            problems = []
            if (amount, currency) != (t.amount, t.currency):
                problems.append(f"Stripe has {amount} {currency}, we have {t.amount} {t.currency}")
            if (status == "succeeded") != (t.status == "succeeded"):
                problems.append(f"Stripe says {status}, we say {t.status}")
            credit = self.ledger.store.get_transfer(topup_credit_id(t.payment_intent_id))
            if t.status == "succeeded" and (credit is None or credit.amount != t.amount):
                problems.append("succeeded but not credited to the wallet once, in full")
            if problems:
                mismatches.append({"topup_id": t.topup_id, "payment_intent_id": t.payment_intent_id,
                                   "problems": problems})
        return {"since": since, "checked": checked, "mismatches": mismatches, "unchecked": unchecked}


def _time(epoch: float | None) -> str | None:
    return rfc3339(epoch) if epoch is not None else None
