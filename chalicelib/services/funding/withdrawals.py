"""Withdrawals: held at once, paid out through Stripe (Connect) without ever paying twice,
settled by payout events (docs/architecture.md, Withdrawal)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chalicelib import observability
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.commands import WithdrawMoney
from chalicelib.domain.errors import (
    CardDeclined,
    Conflict,
    NotFound,
    PaymentProviderError,
    PayoutAccountRequired,
    ServiceUnavailable,
)
from chalicelib.domain.funding import Withdrawal
from chalicelib.domain.ids import rfc3339
from chalicelib.domain.ledger import check_idempotency_key, deterministic_id
from chalicelib.domain.money import Money
from chalicelib.domain.results import PayoutAccountView, WithdrawalsResumed, WithdrawalView
from chalicelib.domain.unit_of_work import Audited, NewWithdrawal, WithdrawalStatusChange
from chalicelib.services.funding.common import (
    PAYOUTS,
    RESUME_WITHIN,
    Applied,
    FundingBase,
    PayoutNotYetRecorded,
)
from chalicelib.services.replay import Outcome, reopen, same_request, seal

log = logging.getLogger(__name__)

# Account statuses no money leaves from (adapters.dynamodb.ledger `_not_frozen` says the same).
NO_OUTFLOW = ("frozen", "closed")


class _NotClaimed(Exception):
    """A Stripe call's claim was refused: the account is frozen, or the withdrawal moved on."""


class Withdrawals(FundingBase):
    def open_payout_account(self, user_id: str) -> PayoutAccountView:
        user = self.repo.user(user_id)
        if user is None:
            raise NotFound()
        account = self.gateway.open_payout_account(user_id, user.payout_account_id)
        self.repo.set_payout_account(user_id, account.account_id, account.status)
        view: PayoutAccountView = {"status": account.status}
        if account.onboarding_url:
            view["onboarding_url"] = account.onboarding_url
        return view

    def payout_account(self, user_id: str) -> PayoutAccountView:
        user = self.repo.user(user_id)
        if user is None or not user.payout_status:
            raise NotFound("No payout account yet: POST /payout-account.")
        return {"status": user.payout_status}

    def withdraw(self, user_id: str, idempotency_key: str | None, command: WithdrawMoney, otp: Any, *,
                 session_id: str | None = None) -> Outcome[WithdrawalView]:
        """`session_id`: the caller's login, which wrong codes count for (services.mfa)."""
        key = check_idempotency_key(idempotency_key)
        withdrawal_id = deterministic_id("wd", user_id, key)
        # Without the otp (not in the command): a retry may carry a fresh code.
        req_hash = self.ledger.request_hash("withdrawals", command.as_request())
        existing = self.repo.withdrawal(withdrawal_id)
        if existing is not None:
            same_request(existing.request_hash, req_hash)
            if existing.response_ct:  # the first complete answer, as it was
                return reopen(self.cipher, user_id, existing.response_ct)
            if not existing.payout_id and existing.status == "pending":
                self._send_payout(existing)  # the first call stopped between hold and Stripe
            return self._withdrawal_answer(withdrawal_id, replayed=True)
        self.mfa.require(user_id, otp, session_id=session_id)
        wallet = self.ledger.wallet(user_id, command.wallet_id)
        amount = Money(command.amount, wallet.currency)
        self.ledger.check_maximum(amount)
        user = self.repo.user(user_id)
        if not self.gateway.platform_payouts and not (user and user.payout_account_id):
            raise PayoutAccountRequired()
        record = NewWithdrawal(withdrawal_id=withdrawal_id, user_id=user_id, wallet_id=wallet.wallet_id,
                               amount=amount.amount, currency=amount.currency, request_hash=req_hash,
                               created_at=rfc3339(self.now()))
        if not self.ledger.debit_to_system(PAYOUTS, wallet.wallet_id, amount, withdrawal_id, "withdrawal",
                                           hold=True, record=record, daily_limit=True):
            # a concurrent twin won: replay it
            return self.withdraw(user_id, idempotency_key, command, otp, session_id=session_id)
        self._send_payout(self._existing(withdrawal_id))
        return self._withdrawal_answer(withdrawal_id)

    def _withdrawal_answer(self, withdrawal_id: str, replayed: bool = False) -> Outcome[WithdrawalView]:
        """Answer with the withdrawal; once it is complete (payout sent, or failed), keep that
        answer (encrypted) so replays of the key return it unchanged, whatever happens next."""
        w = self._existing(withdrawal_id)
        view = self.withdrawal_view(w)
        if w.payout_id or w.status in ("failed", "needs_attention"):
            self.repo.keep_withdrawal_answer(withdrawal_id, seal(self.cipher, w.user_id, view))
        return Outcome(view, replayed=replayed)

    def _existing(self, withdrawal_id: str) -> Withdrawal:
        """A withdrawal this process has just written or read (never deleted)."""
        w = self.repo.withdrawal(withdrawal_id)
        if w is None:
            raise ServiceUnavailable("The withdrawal could not be read back; retry.")
        return w

    def _send_payout(self, w: Withdrawal) -> None:
        """Pay a held withdrawal out, or go on from wherever an earlier attempt stopped.

        Never twice: in Connect mode the money first moves to the user's connected account
        (a Stripe transfer), then a payout leaves that account; each step goes through `_once`,
        which claims the call first, conditional on the account being neither frozen nor closed.

        A refusal of a create call gives the hold back (after taking a transfer back from the
        connected account); an unknown outcome (ServiceUnavailable) keeps it for the retry, the
        resume job or the payout events to settle."""
        user = self.repo.user(w.user_id)
        if (user is not None and user.status in NO_OUTFLOW) or w.payout_barred_at is not None:
            self._frozen(w)  # a bar is never lifted: a give-back begun before an unfreeze is finished
            return
        account = user.payout_account_id if user else None
        meta = {"withdrawal_id": w.withdrawal_id, "user_id": w.user_id}
        wid, amount = w.withdrawal_id, w.amount
        try:
            if not self.gateway.platform_payouts and not w.stripe_transfer_id:
                transfer_id = self._once(w, "transfer", w.transfer_attempted_at,
                                         lambda: self.gateway.find_transfer(wid),
                                         lambda: self.gateway.transfer_to_account(
                                             amount=amount, currency=w.currency, account_id=account or "",
                                             withdrawal_id=wid, metadata=meta))
                if transfer_id is None:
                    return
                self.repo.set_stripe_transfer(wid, transfer_id)
            payout_id = self._once(w, "payout", w.payout_attempted_at,
                                   lambda: self.gateway.find_payout(account, wid),
                                   lambda: self.gateway.create_payout(amount=amount, currency=w.currency,
                                                                      account_id=account, withdrawal_id=wid,
                                                                      metadata=meta))
        except (PaymentProviderError, CardDeclined):
            # Stripe refused a create call outright (look-ups never raise these): nothing was
            # made by that call, and Stripe answers a repeat of its key with the same refusal.
            self._give_back(self._existing(wid))
            return
        except _NotClaimed:
            # Frozen meanwhile (or another process settled it): act on what is stored now.
            fresh = self._existing(wid)
            profile = self.repo.user(w.user_id)
            if fresh.status == "pending" and (fresh.payout_barred_at is not None
                                              or (profile is not None and profile.status in NO_OUTFLOW)):
                self._frozen(fresh)
            return
        if payout_id is not None:
            self.repo.set_payout(wid, payout_id)

    def _frozen(self, w: Withdrawal) -> None:
        """The account was frozen after the hold. What Stripe was asked for before the freeze
        (a claimed call) is found and followed as usual; nothing is asked for after it. If no
        payout was claimed, the payout is barred, whatever reached the connected account comes
        back, then the hold: a give-back and a payout can never both happen. A call claimed
        before the freeze whose outcome Stripe cannot show waits for a person."""
        if w.payout_id or w.status != "pending":
            return
        user = self.repo.user(w.user_id)
        account = user.payout_account_id if user else None
        if w.payout_attempted_at is not None:
            found = self.gateway.find_payout(account, w.withdrawal_id)
            if found is not None:
                self.repo.set_payout(w.withdrawal_id, found)  # asked for before the freeze: it settles
            else:
                self._needs_attention(w, "account frozen; a payout asked for before the freeze is not found")
            return
        if w.transfer_attempted_at is not None and not w.stripe_transfer_id:
            found = self.gateway.find_transfer(w.withdrawal_id)
            if found is None:
                self._needs_attention(w, "account frozen; a transfer asked for before the freeze is not found")
                return
            self.repo.set_stripe_transfer(w.withdrawal_id, found)
        if not self.repo.bar_payout(w.withdrawal_id):
            return  # a payout was claimed meanwhile (before the freeze): it settles by its events
        self._give_back(self._existing(w.withdrawal_id))

    def _give_back(self, w: Withdrawal) -> None:
        """No payout for this withdrawal: if the money already sits in the connected account,
        it is taken back first; then the hold goes back, once, with the status."""
        self._reverse_transfer(w)
        self.ledger.resolve_hold(w.withdrawal_id, post=False, record=WithdrawalStatusChange(w.withdrawal_id, "failed"))

    def _once(self, w: Withdrawal, call: str, attempted_at: float | None, find: Callable[[], str | None],
              create: Callable[[], str]) -> str | None:
        """The id of what one Stripe call made, made at most once: when an earlier attempt's
        answer was lost it is looked up first; a repeat is made only while Stripe still
        remembers the key of the first attempt (RESUME_WITHIN). Every call is claimed first
        (`mark_attempt`); `_NotClaimed` when the claim is refused (frozen, barred, settled).
        None when, past the window, the withdrawal waits for a person (`needs_attention`)."""
        if attempted_at is not None:
            found = find()
            if found is not None:
                return found
            if self.now() - attempted_at >= RESUME_WITHIN:
                self._needs_attention(w, f"{call} outcome unknown past the idempotency window")
                return None
        if not self.repo.mark_attempt(w.withdrawal_id, w.user_id, call, self.now(), first=attempted_at):
            raise _NotClaimed()
        return create()

    def _needs_attention(self, w: Withdrawal, reason: str) -> None:
        if self.repo.set_withdrawal_status(w.withdrawal_id, "needs_attention", reason=reason):
            log.error("withdrawal needs attention", extra={"withdrawal_id": w.withdrawal_id, "reason": reason})
            observability.count("WithdrawalNeedsAttention")

    def resume_stuck_withdrawals(self, older_than_seconds: int = 900) -> WithdrawalsResumed:
        """Go on with withdrawals whose first call stopped between the hold and Stripe (crash,
        timeout) and that no retry resumed. Each withdrawal on its own: one that fails is logged
        and counted, and the others still go. Run by its own scheduled Lambda."""
        cutoff = rfc3339(self.now() - older_than_seconds)
        done: WithdrawalsResumed = {"resumed": 0, "failed": 0}
        for w in self.repo.stuck_withdrawals(cutoff):
            try:
                self._send_payout(w)
                done["resumed"] += 1
            except Exception:
                log.exception("resuming a withdrawal failed", extra={"withdrawal_id": w.withdrawal_id})
                done["failed"] += 1
        if done["failed"]:
            observability.count("WithdrawalResumeFailed", done["failed"])
        return done

    def resolve_attention(self, w: Withdrawal, *, paid: bool, audit: AuditEntry) -> bool:
        """A person checked Stripe about a withdrawal that waits for them (`needs_attention`):
        post its hold (the money left) or void it (it did not; in Connect mode the transfer to
        the user's account is taken back first, so the money is never both there and in the
        wallet). The decision is claimed first, so a second person deciding otherwise acts on
        nothing (Conflict), and the same decision run again after a crash finishes the job.
        Exactly once, with the audit record in the same transaction as the hold: False when
        it was settled already."""
        outcome = "paid" if paid else "failed"
        if not self.repo.claim_resolution(w.withdrawal_id, outcome):
            current = self.repo.withdrawal(w.withdrawal_id)
            if current is not None and current.status in ("paid", "failed"):
                return False
            raise Conflict("Another person is resolving this withdrawal differently; check its state.")
        if not paid:
            current = self._existing(w.withdrawal_id)
            if not self.gateway.platform_payouts and current.transfer_attempted_at and not current.stripe_transfer_id:
                # A transfer whose answer never came back may have gone through since: take it
                # back too, or the money would be both in the connected account and the wallet.
                found = self.gateway.find_transfer(w.withdrawal_id)
                if found is not None:
                    self.repo.set_stripe_transfer(w.withdrawal_id, found)
                    current = self._existing(w.withdrawal_id)
            self._reverse_transfer(current)  # once: its id is recorded
        elif not w.payout_id:
            # Record the payout the person saw, so a later payout.failed (a bank can return a
            # paid payout) finds this withdrawal and gives the money back.
            user = self.repo.user(w.user_id)
            payout_id = self.gateway.find_payout(user.payout_account_id if user else None, w.withdrawal_id)
            if payout_id:
                self.repo.set_payout(w.withdrawal_id, payout_id)
        return self.ledger.resolve_hold(w.withdrawal_id, post=paid, record=Audited(
            WithdrawalStatusChange(w.withdrawal_id, outcome, from_=("needs_attention",)), audit))

    def withdrawal_view(self, w: Withdrawal) -> WithdrawalView:
        return {"withdrawal_id": w.withdrawal_id, "status": w.status, "wallet_id": w.wallet_id,
                "amount": w.amount, "currency": w.currency, "provider_reference": w.payout_id,
                "created_at": w.created_at}

    def get_withdrawal(self, user_id: str, withdrawal_id: str) -> WithdrawalView:
        w = self.repo.withdrawal(withdrawal_id)
        if w is None or w.user_id != user_id:
            raise NotFound("The withdrawal was not found.")
        return self.withdrawal_view(w)

    def _payout_settled(self, payout: dict[str, Any], *, paid: bool) -> Applied:
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
                return Applied.UNKNOWN_PAYOUT
        if self.gateway.payout_amount(payout) != (w.amount, w.currency):
            log.error("payout amount/currency mismatch", extra={"withdrawal_id": w.withdrawal_id})
            observability.count("PayoutMismatch")
            return Applied.MISMATCH
        if not paid:
            # Connect: the failed payout's money is back in the connected account, not ours.
            # Take it back first, so it is never both there and in the wallet.
            self._reverse_transfer(w)
        status = "paid" if paid else "failed"
        held = self.ledger.store.get_transfer(w.withdrawal_id)
        if held is not None and held.status == "pending":
            if self.ledger.resolve_hold(w.withdrawal_id, post=paid,
                                        record=WithdrawalStatusChange(w.withdrawal_id, status)):
                return Applied.PAID if paid else Applied.VOIDED
            return Applied.ALREADY_SETTLED
        # Stripe documents that a paid payout can still fail: the bank sent the money back, so it
        # goes back to the wallet, once (conditional on the withdrawal still reading `paid`).
        if (not paid and held is not None and held.status == "posted" and w.status == "paid"
                and self.ledger.credit_from_system(PAYOUTS, w.wallet_id, Money(w.amount, w.currency),
                                                   deterministic_id("rv", str(payout_id)), "reversal",
                                                   record=WithdrawalStatusChange(
                                                       w.withdrawal_id, "failed", from_=("paid",)))):
            return Applied.REVERSED
        return Applied.ALREADY_SETTLED

    def _reverse_transfer(self, w: Withdrawal) -> None:
        """In Connect mode, bring a withdrawal's transfer back from the connected account, once:
        a reversal an earlier attempt made (its answer lost, or the process died before its id
        was recorded) is looked up first, since a repeat more than 24 h later is a new request
        that Stripe refuses (more than the transfer has left); the reversal's key is the
        withdrawal's, and its id is recorded."""
        if self.gateway.platform_payouts or not w.stripe_transfer_id or w.reversal_id:
            return
        reversal_id = (self.gateway.find_reversal(w.stripe_transfer_id, w.withdrawal_id)
                       or self.gateway.reverse_transfer(w.stripe_transfer_id, w.amount, w.withdrawal_id))
        self.repo.set_reversal(w.withdrawal_id, reversal_id)
