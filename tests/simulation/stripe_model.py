"""Stripe as the simulator sees it: the `PaymentGateway` port over an in-memory model of the
objects our money depends on, following Stripe's documentation where it matters here.

- Idempotency (docs: "Idempotent requests"): the same key within 24 h returns the first result,
  a refusal included; after 24 h the key is forgotten and the same call makes a NEW object.
- Connect transfers and reversals (docs: "Transfer reversals"): reversals are refused beyond
  what remains of the transfer; a transfer's reversals can be listed.
- Payouts (docs: "Payouts"): created pending, later `payout.paid` or `payout.failed`; a paid
  payout can still fail later (the bank returned it). Payouts are listed per account.
- Charges: a PaymentIntent settles later (`payment_intent.succeeded` / `payment_failed`);
  refunds can fail later (`charge.refund.updated`, status failed); a charge may be disputed
  more than once over its life (an inquiry, then a chargeback), one dispute open at a time.
- Events: every change queues an event; the simulator delivers them late, twice and out of
  order, as Stripe documents it may.

It records every create call by purpose, so the invariants can count what was asked of Stripe.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.errors import PaymentProviderError
from chalicelib.domain.funding import CardDetails, Intent, PayoutAccount

DAY = 86400


@dataclass
class Created:
    kind: str  # transfer | payout | reversal | intent
    purpose: str  # the withdrawal or top-up it was made for
    id: str
    at: float
    key: str


@dataclass
class StripeModel:
    clock: Callable[[], float]
    platform_payouts: bool = False
    # Whether a failed refund lowers the charge's amount_refunded (the docs do not say; both
    # behaviours are drawn per run, so the code must be right under either).
    failed_refund_lowers_total: bool = False
    # (user, withdrawal, call) -> True when Stripe is asked for money out that a frozen account
    # must not get: the simulator's invariant, checked at the moment Stripe acts.
    asked_after_freeze: Callable[[str, str, str], bool] = lambda user_id, withdrawal_id, call: False
    memory: dict[str, tuple[float, Any]] = field(default_factory=dict)
    created: list[Created] = field(default_factory=list)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    reversals: dict[str, dict[str, Any]] = field(default_factory=dict)
    payouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # not yet delivered
    violations: list[str] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    # -- the model's own machinery ----------------------------------------------------------
    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def _keyed(self, key: str, make: Callable[[], Any]) -> Any:
        seen = self.memory.get(key)
        if seen is not None and self.clock() - seen[0] < DAY:
            result = seen[1]
        else:
            try:
                result = make()
            except PaymentProviderError as refusal:  # Stripe keeps a refusal under its key too
                result = refusal
            self.memory[key] = (self.clock(), result)
        if isinstance(result, Exception):
            raise result
        return result

    def _emit(self, type_: str, obj: dict[str, Any], account: str | None = None) -> None:
        event = {"id": self._id("evt"), "type": type_, "data": {"object": dict(obj)}}
        if account:
            event["account"] = account
        self.events.append(event)

    def _record(self, kind: str, purpose: str, id_: str, key: str, user_id: str | None = None) -> None:
        if user_id is not None and kind in ("transfer", "payout") and self.asked_after_freeze(user_id, purpose, kind):
            self.violations.append(f"{kind} {id_} for {purpose} made for an account frozen before it was asked")
        self.created.append(Created(kind, purpose, id_, self.clock(), key))

    # -- the port: customers and cards ----------------------------------------------------------
    def create_customer(self, user_id: str) -> str:
        return str(self._keyed(f"customer-{user_id}", lambda: self._id("cus")))

    def create_setup_intent(self, customer_id: str, key: str) -> Intent:
        return Intent(self._id("seti"), "requires_payment_method", None)

    def attach_payment_method(self, stripe_pm_id: str, customer_id: str) -> CardDetails:
        raise AssertionError("the simulator stores cards directly")

    def detach_payment_method(self, stripe_pm_id: str) -> None:
        return None

    def charge(self, *, amount: int, currency: str, customer_id: str, stripe_pm_id: str,
               metadata: dict[str, str], key: str) -> Intent:
        def make() -> Intent:
            pi = self._id("pi")
            self.intents[pi] = {"id": pi, "object": "payment_intent", "amount": amount, "currency": currency.lower(),
                                "metadata": dict(metadata), "status": "processing", "charge": f"ch_{pi}",
                                "amount_refunded": 0}
            self._record("intent", metadata.get("topup_id", ""), pi, key)
            return Intent(pi, "processing", f"{pi}_secret")
        return self._keyed(key, make)  # type: ignore[no-any-return]

    def payment_intent(self, intent_id: str) -> tuple[int, str, str]:
        pi = self.intents[intent_id]
        return pi["amount"], str(pi["currency"]).upper(), pi["status"]

    # -- the port: Connect and payouts ----------------------------------------------------------
    def open_payout_account(self, user_id: str, existing: str | None) -> PayoutAccount:
        return PayoutAccount(existing or f"acct_{user_id}", "enabled", None)

    def transfer_to_account(self, *, amount: int, currency: str, account_id: str, withdrawal_id: str,
                            metadata: dict[str, str]) -> str:
        key = f"{withdrawal_id}-transfer"

        def make() -> str:
            tr = self._id("tr")
            self.transfers[tr] = {"id": tr, "amount": amount, "currency": currency.lower(), "destination": account_id,
                                  "group": withdrawal_id, "metadata": dict(metadata), "reversed": 0}
            self._record("transfer", withdrawal_id, tr, key, metadata.get("user_id"))
            return tr
        return str(self._keyed(key, make))

    def find_transfer(self, withdrawal_id: str) -> str | None:
        return next((t for t, v in self.transfers.items()
                     if v["group"] == withdrawal_id and v["metadata"].get("withdrawal_id") == withdrawal_id), None)

    def create_payout(self, *, amount: int, currency: str, account_id: str | None, withdrawal_id: str,
                      metadata: dict[str, str]) -> str:
        key = withdrawal_id if self.platform_payouts else f"{withdrawal_id}-payout"

        def make() -> str:
            if not self.platform_payouts:
                if not account_id:
                    raise PaymentProviderError("No payout account.")
                funded = sum(t["amount"] - t["reversed"] for t in self.transfers.values()
                             if t["destination"] == account_id)
                paid = sum(p["amount"] for p in self.payouts.values()
                           if p["account"] == account_id and p["status"] in ("pending", "paid"))
                if funded - paid < amount:  # the connected account's balance cannot cover it
                    raise PaymentProviderError("Insufficient funds in the connected account.")
            po = self._id("po")
            self.payouts[po] = {"id": po, "object": "payout", "amount": amount, "currency": currency.lower(),
                                "metadata": dict(metadata), "status": "pending",
                                "account": None if self.platform_payouts else account_id}
            self._record("payout", withdrawal_id, po, key, metadata.get("user_id"))
            return po
        return str(self._keyed(key, make))

    def find_payout(self, account_id: str | None, withdrawal_id: str) -> str | None:
        account = None if self.platform_payouts else account_id
        return next((p for p, v in self.payouts.items()
                     if v["account"] == account and v["metadata"].get("withdrawal_id") == withdrawal_id), None)

    def reverse_transfer(self, transfer_id: str, amount: int, withdrawal_id: str) -> str:
        key = f"{withdrawal_id}-reversal"

        def make() -> str:
            tr = self.transfers[transfer_id]
            if tr["reversed"] + amount > tr["amount"]:
                raise PaymentProviderError("The reversal exceeds what remains of the transfer.")
            funded = sum(t["amount"] - t["reversed"] for t in self.transfers.values()
                         if t["destination"] == tr["destination"])
            paid = sum(p["amount"] for p in self.payouts.values()
                       if p["account"] == tr["destination"] and p["status"] in ("pending", "paid"))
            if funded - paid < amount:
                raise PaymentProviderError("Insufficient funds in the connected account.")
            tr["reversed"] += amount
            trr = self._id("trr")
            self.reversals[trr] = {"id": trr, "transfer": transfer_id, "amount": amount,
                                   "metadata": {"withdrawal_id": withdrawal_id}}
            self._record("reversal", withdrawal_id, trr, key)
            return trr
        return str(self._keyed(key, make))

    def find_reversal(self, transfer_id: str, withdrawal_id: str) -> str | None:
        return next((r for r, v in self.reversals.items()
                     if v["transfer"] == transfer_id and v["metadata"].get("withdrawal_id") == withdrawal_id), None)

    def refunds_of(self, charge_id: str) -> list[int] | None:
        if not any(p["charge"] == charge_id for p in self.intents.values()):
            return None
        return [r["amount"] for r in self.refunds.values() if r["charge"] == charge_id]

    def payout_amount(self, payout: dict[str, Any]) -> tuple[int, str]:
        amount = payout.get("amount")
        return (amount if isinstance(amount, int) else -1), str(payout.get("currency", "")).upper()

    # -- what happens at Stripe without us asking ---------------------------------------------
    def settle_intent(self, pi_id: str, succeeded: bool) -> None:
        pi = self.intents[pi_id]
        if pi["status"] != "processing":
            return
        pi["status"] = "succeeded" if succeeded else "requires_payment_method"
        obj = {**pi, "amount_received": pi["amount"] if succeeded else 0}
        self._emit("payment_intent.succeeded" if succeeded else "payment_intent.payment_failed", obj)

    def _charge(self, pi: dict[str, Any]) -> dict[str, Any]:
        return {"id": pi["charge"], "object": "charge", "payment_intent": pi["id"], "amount": pi["amount"],
                "amount_refunded": pi["amount_refunded"], "currency": pi["currency"], "metadata": pi["metadata"]}

    def refundable(self, pi_id: str) -> int:
        pi = self.intents[pi_id]
        return pi["amount"] - pi["amount_refunded"] if pi["status"] == "succeeded" else 0

    def refund(self, pi_id: str, amount: int) -> None:
        """Someone refunds from the dashboard (support, a merchant): money leaves our balance."""
        pi = self.intents[pi_id]
        if amount <= 0 or amount > self.refundable(pi_id):
            return
        pi["amount_refunded"] += amount
        re = self._id("re")
        self.refunds[re] = {"id": re, "object": "refund", "amount": amount, "currency": pi["currency"],
                            "payment_intent": pi_id, "charge": pi["charge"], "status": "succeeded",
                            "metadata": pi["metadata"]}
        self._emit("charge.refunded", self._charge(pi))

    def fail_refund(self, refund_id: str) -> None:
        re = self.refunds[refund_id]
        if re["status"] != "succeeded":
            return
        re["status"] = "failed"
        if self.failed_refund_lowers_total:
            self.intents[re["payment_intent"]]["amount_refunded"] -= re["amount"]
        self._emit("charge.refund.updated", re)

    def open_dispute(self, pi_id: str, amount: int) -> None:
        pi = self.intents[pi_id]
        if pi["status"] != "succeeded" or any(d["payment_intent"] == pi_id and d["status"] == "needs_response"
                                             for d in self.disputes.values()):
            return
        amount = min(amount, pi["amount"] - pi["amount_refunded"])
        if amount <= 0:
            return
        dp = self._id("dp")
        self.disputes[dp] = {"id": dp, "object": "dispute", "amount": amount, "currency": pi["currency"],
                             "payment_intent": pi_id, "charge": pi["charge"], "status": "needs_response",
                             "metadata": {}}
        self._emit("charge.dispute.created", self.disputes[dp])

    def close_dispute(self, dispute_id: str, won: bool) -> None:
        d = self.disputes[dispute_id]
        if d["status"] != "needs_response":
            return
        d["status"] = "won" if won else "lost"
        self._emit("charge.dispute.closed", d)

    def settle_payout(self, payout_id: str, paid: bool) -> None:
        """The bank answers: pending -> paid or failed; a paid payout can still fail later."""
        po = self.payouts[payout_id]
        if po["status"] == "pending" or (po["status"] == "paid" and not paid):
            po["status"] = "paid" if paid else "failed"
            self._emit("payout.paid" if paid else "payout.failed", po, po["account"])

    # -- what the invariants read ---------------------------------------------------------------
    def money_in(self, currency: str) -> int:
        """What Stripe holds for us from cards: succeeded intents, less refunds that did not
        fail, less lost disputes."""
        cur = currency.lower()

        def total(objects: dict[str, dict[str, Any]], status: str) -> int:
            return sum(o["amount"] for o in objects.values() if o["status"] == status and o["currency"] == cur)
        return total(self.intents, "succeeded") - total(self.refunds, "succeeded") - total(self.disputes, "lost")

    def paid_out(self, withdrawal_id: str) -> int:
        return sum(p["amount"] for p in self.payouts.values()
                   if p["metadata"].get("withdrawal_id") == withdrawal_id and p["status"] == "paid")

    def left_in_account(self, withdrawal_id: str) -> int:
        """Connect: what a withdrawal's transfers left in the connected account (not paid out,
        not reversed)."""
        moved = sum(t["amount"] - t["reversed"] for t in self.transfers.values() if t["group"] == withdrawal_id)
        out = sum(p["amount"] for p in self.payouts.values()
                  if p["metadata"].get("withdrawal_id") == withdrawal_id and p["status"] in ("pending", "paid"))
        return moved - out
