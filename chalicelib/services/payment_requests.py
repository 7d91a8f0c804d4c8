"""Payment requests: ask someone for money; they pay, decline, or let it expire.

Paying is a transfer (`Ledger.pay`: every transfer rule and error applies) whose transaction
also moves the request out of `pending` on the condition that it still is: of two payments
racing with different keys exactly one happens, the other is `request_not_pending`. Creating,
declining and canceling move no money; a create with an `Idempotency-Key` is replayed like a
transfer. Nothing here shows anyone's e-mail or phone: people are `{user_id, display_name}`.
"""
from __future__ import annotations

import builtins
import dataclasses
import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.commands import RequestPayment
from chalicelib.domain.errors import NotFound, RequestNotPending
from chalicelib.domain.ids import new_id, rfc3339
from chalicelib.domain.ledger import (
    CurrencyMismatch,
    RecipientNotFound,
    SameWallet,
    check_idempotency_key,
    deterministic_id,
    keyed_id,
)
from chalicelib.domain.money import Money
from chalicelib.domain.payment_request import DEFAULT_EXPIRES_IN, PaymentRequest, RequestOutcome
from chalicelib.domain.results import PaidView, PaymentRequestView, TransferView
from chalicelib.services.ledger import Ledger, Outcome, idempotency_record_key
from chalicelib.services.lockout import Lockout
from chalicelib.services.people import People
from chalicelib.services.ports import FieldCipher, LedgerStore, PaymentRequestStore, UserDirectory

MEMO = "memo"  # encryption context field of a request's memo (bound to the request id)
READ_BUDGET = 200  # requests one list call may read past those it returns


@dataclass
class PaymentRequests:
    ledger: Ledger
    store: LedgerStore
    requests: PaymentRequestStore
    users: UserDirectory
    cipher: FieldCipher
    # Requests a person may make per window: each one lands in someone else's notifications.
    create_limit: Lockout | None = None
    now: Callable[[], float] = time.time

    # -- create ---------------------------------------------------------------------------------
    def create(self, user_id: str, idempotency_key: str | None,
               body: RequestPayment) -> Outcome[PaymentRequestView]:
        if idempotency_key is None:
            return self._create(user_id, None, body)
        key = check_idempotency_key(idempotency_key)
        idem_key = idempotency_record_key(user_id, "payment-requests", key)
        req_hash = self.ledger.request_hash("payment-requests", body.as_request())
        return self.ledger.replay_or(idem_key, req_hash, user_id,
                                     lambda: self._create(user_id, (key, idem_key, req_hash), body))

    def _create(self, user_id: str, keyed: tuple[str, str, str] | None,
                body: RequestPayment) -> Outcome[PaymentRequestView]:
        amount = self.ledger.asked(body.amount, body.currency)
        now = self.now()
        if self.create_limit:  # before the look-up: the limit also bounds probing who is verified
            self.create_limit.attempt(f"payment-requests#{user_id}", int(now))
        payer, invitee = self.ledger.contact(body.payer, "payer")
        # The same allowance of unknown addresses as transfers and invitations (Ledger.screen_lookup).
        self.ledger.screen_lookup(user_id, invitee.contact_key, payer)
        if payer is None:  # only a verified contact names a payer: nobody is asked by a guess
            raise RecipientNotFound()
        if payer == user_id:
            raise SameWallet("You cannot ask yourself for money.")
        request_id = deterministic_id("prq", user_id, keyed[0]) if keyed else new_id("prq")
        memo = body.memo
        request = PaymentRequest(
            request_id=request_id, requester_id=user_id, payer_id=payer, amount=amount.amount,
            currency=amount.currency, status="pending", created_at=rfc3339(now), created_ms=int(now * 1000),
            expires_at=int(now) + (body.expires_in or DEFAULT_EXPIRES_IN),
            memo_ct=self.cipher.encrypt(memo, request_id, MEMO) if memo else None)
        view = self.view(request, People(self.users, self.cipher), now)
        idem = self.ledger.kept_answer(keyed[1], keyed[2], user_id, view, now, request_id) if keyed else None
        self.store.write(request, now=request.created_at, idempotency=idem)
        return Outcome(view)

    # -- read -----------------------------------------------------------------------------------
    def get(self, user_id: str, request_id: str) -> PaymentRequestView:
        return self.view(self._visible(user_id, request_id), People(self.users, self.cipher), self.now())

    def list(self, user_id: str, role: str | None, status: str | None, limit: int,
             cursor: str | None) -> tuple[builtins.list[PaymentRequestView], str | None]:
        """Newest first across the roles asked for; the status is the one read now (a pending
        request past its expiry is listed as expired)."""
        now = self.now()
        roles = [role] if role else ["incoming", "outgoing"]
        merged = _newest_first([self.requests.newest(user_id, which, cursor, limit + 1) for which in roles])
        # A status filter reads past what it skips, but only so far in one call (the rest is on
        # the next page): a long history of other statuses never makes one slow answer.
        page: builtins.list[PaymentRequest] = []  # `list` here is the method below
        scanned: PaymentRequest | None = None
        for read, r in enumerate(merged):
            if len(page) == limit or read >= limit + READ_BUDGET:
                return self._page(page, now, self.requests.cursor_of(scanned) if scanned else None)
            scanned = r
            if status is None or r.status_at(now) == status:
                page.append(r)
        return self._page(page, now, None)

    def _page(self, page: builtins.list[PaymentRequest], now: float, cursor: str | None
              ) -> tuple[builtins.list[PaymentRequestView], str | None]:
        people = People(self.users, self.cipher)
        return [self.view(r, people, now) for r in page], cursor

    def _visible(self, user_id: str, request_id: str) -> PaymentRequest:
        r = self.requests.get(request_id)
        if r is None or r.party_of(user_id) is None:
            raise NotFound("The payment request was not found.")  # someone else's: not found
        return r

    def view(self, r: PaymentRequest, people: People, now: float) -> PaymentRequestView:
        return {"request_id": r.request_id, "status": r.status_at(now),
                "requester": people.party(r.requester_id), "payer": people.party(r.payer_id),
                "amount": r.amount, "currency": r.currency,
                "memo": self.cipher.decrypt(r.memo_ct, r.request_id, MEMO) if r.memo_ct else None,
                "transfer_id": r.transfer_id, "created_at": r.created_at, "expires_at": rfc3339(r.expires_at)}

    # -- outcomes -------------------------------------------------------------------------------
    def pay(self, user_id: str, idempotency_key: str | None, request_id: str,
            wallet_id: str) -> Outcome[PaidView]:
        """The payer pays from one of their wallets to the requester's default wallet of the
        currency (opened if missing), in the transaction that marks the request paid."""
        key = check_idempotency_key(idempotency_key)
        idem_key = idempotency_record_key(user_id, "payment-requests.pay", key)
        req_hash = self.ledger.request_hash("payment-requests.pay", {"request_id": request_id,
                                                                     "wallet_id": wallet_id})
        return self.ledger.replay_or(idem_key, req_hash, user_id,
                                     lambda: self._pay(user_id, key, idem_key, req_hash, request_id, wallet_id))

    def _pay(self, user_id: str, key: str, idem_key: str, req_hash: str, request_id: str,
             wallet_id: str) -> Outcome[PaidView]:
        r = self._payable(user_id, request_id)
        self.ledger.check_currency(r.currency)  # today's rules, not those of the day it was asked
        self.ledger.check_maximum(Money(r.amount, r.currency))
        source = self.ledger.wallet(user_id, wallet_id)
        if source.currency != r.currency:
            raise CurrencyMismatch()
        now = int(self.now())
        # The operation is part of the id: a key used on /transfers names another transfer.
        transfer_id = keyed_id("tr", user_id, "payment-requests.pay", key)
        to = (self.ledger.default_wallet(r.requester_id, r.currency), r.requester_id)
        memo = self.cipher.decrypt(r.memo_ct, r.request_id, MEMO) if r.memo_ct else None
        people = People(self.users, self.cipher)

        def answer(transfer: TransferView) -> PaidView:
            paid = dataclasses.replace(r, status="paid", transfer_id=transfer_id)
            return {"request": self.view(paid, people, now), "transfer": transfer}

        return self.ledger.pay(user_id, key, idem_key, req_hash, source, to, Money(r.amount, r.currency), memo,
                               record=RequestOutcome(request_id, "paid", now, by=user_id, transfer_id=transfer_id),
                               answer=answer, transfer_id=transfer_id)

    def _payable(self, user_id: str, request_id: str) -> PaymentRequest:
        r = self._visible(user_id, request_id)
        if r.payer_id != user_id:
            raise NotFound("The payment request was not found.")  # the requester cannot pay it
        if r.status_at(self.now()) != "pending":
            raise RequestNotPending()
        return r

    def decline(self, user_id: str, request_id: str) -> PaymentRequestView:
        return self._close(user_id, request_id, "declined", "incoming")

    def cancel(self, user_id: str, request_id: str) -> PaymentRequestView:
        return self._close(user_id, request_id, "canceled", "outgoing")

    def _close(self, user_id: str, request_id: str, status: str, role: str) -> PaymentRequestView:
        r = self._visible(user_id, request_id)
        if r.party_of(user_id) != role:  # the payer declines, the requester cancels
            raise NotFound("The payment request was not found.")
        now = int(self.now())
        if r.status_at(now) != "pending":
            raise RequestNotPending()
        self.store.write(RequestOutcome(request_id, status, now, by=user_id), now=rfc3339(now))
        return self.view(dataclasses.replace(r, status=status), People(self.users, self.cipher), now)

    def expire(self) -> int:
        """The scheduled sweep: write `expired` on pending requests past their expiry (they
        read as expired already); a request paid meanwhile keeps its outcome (the condition)."""
        now = int(self.now())
        done = 0
        for r in self.requests.waiting_until(now):
            try:
                self.store.write(RequestOutcome(r.request_id, "expired", now), now=rfc3339(now))
                done += 1
            except RequestNotPending:
                continue
        return done


def _newest_first(streams: list[Any]) -> Any:
    """Merge lists that are each newest first into one newest-first list, lazily."""
    return heapq.merge(*streams, key=lambda r: (r.created_ms, r.request_id), reverse=True)
