"""Payment requests on DynamoDB Local: paying is one transaction with the request's condition,
so of many payers racing (different keys) exactly one pays, and money is never taken twice."""
from __future__ import annotations

import dataclasses
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.domain.commands import RequestPayment
from chalicelib.domain.errors import DomainError, RequestNotPending
from chalicelib.services.reconcile import reconcile
from tests.integration.test_ledger_dynamodb import fund, person


def ask(c, requester: str, payer_email: str, amount: int, **extra) -> dict:
    return c.payment_requests.create(requester, None, RequestPayment.of(
        {"payer": {"email": payer_email}, "amount": amount,
         "currency": "USD", **extra})).body


def test_racing_payments_of_one_request_pay_it_exactly_once(stack_container):
    c = stack_container
    requester, _, req_wallet = person(c)
    payer, payer_email, payer_wallet = person(c)
    fund(c.ledger, payer_wallet, 100_000)
    requests = [ask(c, requester, payer_email, 1000 + i)["request_id"] for i in range(8)]

    def attempt(request_id: str) -> tuple[str, str]:
        try:
            c.payment_requests.pay(payer, uuid.uuid4().hex, request_id, payer_wallet)  # a new key each time
            return request_id, "paid"
        except DomainError as err:
            return request_id, err.code

    tasks = [r for r in requests for _ in range(6)]  # 6 payments per request, all at once
    random.shuffle(tasks)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(attempt, tasks))

    for request_id in requests:
        outcomes = sorted(code for rid, code in results if rid == request_id)
        assert outcomes == ["paid"] + ["request_not_pending"] * 5, outcomes
        stored = c.payment_requests.get(requester, request_id)
        assert stored["status"] == "paid" and stored["transfer_id"]
    paid = sum(1000 + i for i in range(8))
    assert c.ledger.wallet(requester, req_wallet).balance == paid
    w = c.ledger.wallet(payer, payer_wallet)
    assert (w.balance, w.held, w.available) == (100_000 - paid, 0, 100_000 - paid)
    report = reconcile(c.ledger_store)
    assert report.ok, report.drift[:5]


def test_a_decline_racing_payments_leaves_one_outcome(stack_container):
    c = stack_container
    requester, _, req_wallet = person(c)
    payer, payer_email, payer_wallet = person(c)
    fund(c.ledger, payer_wallet, 10_000)
    requests = [ask(c, requester, payer_email, 500)["request_id"] for _ in range(6)]

    def attempt(kind: str, request_id: str) -> tuple[str, str, bool]:
        try:
            if kind == "pay":
                c.payment_requests.pay(payer, uuid.uuid4().hex, request_id, payer_wallet)
            elif kind == "decline":
                c.payment_requests.decline(payer, request_id)
            else:
                c.payment_requests.cancel(requester, request_id)
            return request_id, kind, True
        except RequestNotPending:
            return request_id, kind, False

    tasks = [(k, r) for r in requests for k in ("pay", "pay", "decline", "cancel")]
    random.shuffle(tasks)
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda t: attempt(*t), tasks))
    status = {"pay": "paid", "decline": "declined", "cancel": "canceled"}
    paid = 0
    for request_id in requests:
        winners = [kind for rid, kind, won in results if rid == request_id and won]
        assert len(winners) == 1, winners
        assert c.payment_requests.get(payer, request_id)["status"] == status[winners[0]]
        paid += 500 if winners[0] == "pay" else 0
    assert c.ledger.wallet(requester, req_wallet).balance == paid
    assert c.ledger.wallet(payer, payer_wallet).balance == 10_000 - paid
    assert reconcile(c.ledger_store).ok


def test_expiry_is_read_time_and_the_sweep_loses_to_nothing_it_should_not(stack_container):
    c = stack_container
    requester, _, _ = person(c)
    payer, payer_email, payer_wallet = person(c)
    fund(c.ledger, payer_wallet, 1000)
    short = ask(c, requester, payer_email, 100, expires_in=60)["request_id"]
    long = ask(c, requester, payer_email, 100)["request_id"]
    later = dataclasses.replace(c.payment_requests, now=lambda: time.time() + 61)
    assert later.get(payer, short)["status"] == "expired"
    assert later.get(payer, long)["status"] == "pending"
    with pytest.raises(RequestNotPending):
        later.pay(payer, uuid.uuid4().hex, short, payer_wallet)
    assert later.expire() >= 1
    assert c.payment_requests.get(payer, short)["status"] == "expired"  # written now, for every clock
    assert c.payment_requests.get(payer, long)["status"] == "pending"
    assert short not in {r.request_id for r in c.payment_requests.requests.waiting_until(2**40)}
    assert c.ledger.wallet(payer, payer_wallet).balance == 1000


def test_lists_page_newest_first_through_both_indexes(stack_container):
    c = stack_container
    ann, ann_email, _ = person(c)
    bob, bob_email, _ = person(c)
    made = []
    for i in range(7):
        time.sleep(0.002)  # distinct milliseconds: same-millisecond requests order by id
        made.append(ask(c, ann, bob_email, 10 + i)["request_id"] if i % 2 else
                    ask(c, bob, ann_email, 10 + i)["request_id"])
    seen, cursor = [], None
    while True:
        items, cursor = c.payment_requests.list(ann, None, None, 3, cursor)
        seen += [r["request_id"] for r in items]
        if cursor is None:
            break
    assert seen == made[::-1]
    incoming, _ = c.payment_requests.list(ann, "incoming", "pending", 20, None)
    assert [r["request_id"] for r in incoming] == made[::-2]
