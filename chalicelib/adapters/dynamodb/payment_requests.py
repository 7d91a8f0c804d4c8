"""Reading payment requests (their writes join the ledger's transactions: dynamodb/ledger.py)."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from chalicelib.adapters.dynamodb import cursors
from chalicelib.adapters.dynamodb.models import PaymentRequestRecord
from chalicelib.domain.payment_request import PaymentRequest

_SK = re.compile(r"[0-9]{13}#prq_[A-Za-z0-9]{1,64}")  # what the ledger writes as `created_sk`


def _request(r: PaymentRequestRecord) -> PaymentRequest:
    return PaymentRequest(request_id=r.request_id, requester_id=r.requester_id, payer_id=r.payer_id,
                          amount=int(r.amount), currency=r.currency, status=r.status, created_at=r.created_at,
                          created_ms=int(r.created_sk.split("#", 1)[0]), expires_at=int(r.expires_at),
                          memo_ct=r.memo_ct, transfer_id=r.transfer_id)


class DynamoPaymentRequests:
    def get(self, request_id: str) -> PaymentRequest | None:
        r = PaymentRequestRecord.find(request_id)
        return _request(r) if r else None

    def newest(self, user_id: str, role: str, before: str | None, page: int) -> Iterator[PaymentRequest]:
        """The user's requests in one role, newest first, from just before the cursor `before`
        (an opaque cursor from `cursor_of`), read `page` at a time for as long as the caller
        iterates (it filters, so it may need more than one page)."""
        index = PaymentRequestRecord.by_payer if role == "incoming" else PaymentRequestRecord.by_requester
        kwargs: dict[str, Any] = {"scan_index_forward": False, "page_size": page}
        if before:
            kwargs["range_key_condition"] = PaymentRequestRecord.created_sk < cursors.decode(before, _SK)
        for r in index.query(user_id, **kwargs):
            yield _request(r)

    @staticmethod
    def cursor_of(r: PaymentRequest) -> str:
        return cursors.encode(f"{r.created_ms:013d}#{r.request_id}")

    def waiting_until(self, now: int) -> Iterator[PaymentRequest]:
        """Pending requests whose expiry has passed (the sparse `waiting` index), oldest first."""
        for r in PaymentRequestRecord.waiting_index.query("pending", PaymentRequestRecord.expires_at <= now):
            yield _request(r)
