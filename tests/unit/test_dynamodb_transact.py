"""PynamoDB transactions (registration, opening a default wallet) cancelled by contention are
retried like the ledger's, never a 500; a failed condition is answered at once."""
from __future__ import annotations

import pytest
from pynamodb.connection import Connection
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from chalicelib.adapters.dynamodb import connection as conn
from chalicelib.adapters.dynamodb.users import DynamoUsers
from chalicelib.domain.errors import EmailTaken, ServiceUnavailable
from chalicelib.domain.user import NewWallet, User


def cancelled(*codes: str | None) -> TransactWriteError:
    cause = VerboseClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}},
                               "TransactWriteItems", {}, cancellation_reasons=[
                                   CancellationReason(code=c) if c else None for c in codes])
    return TransactWriteError("Failed to write transaction items", cause)


@pytest.fixture
def outcomes(monkeypatch):
    """Each call to TransactWriteItems takes the next outcome: an exception, or success."""
    queue: list[TransactWriteError | None] = []
    calls: list[int] = []

    def transact_write_items(self, *args, **kwargs):
        calls.append(1)
        outcome = queue.pop(0) if queue else None
        if outcome is not None:
            raise outcome
        return {}

    monkeypatch.setattr(Connection, "transact_write_items", transact_write_items)
    monkeypatch.setattr(conn.random, "uniform", lambda a, b: 0.0)
    return queue, calls


def register() -> None:
    wallet = NewWallet("wal_1", "usr_1", "USD", "Main", "2026-01-01T00:00:00Z")
    DynamoUsers().create(User(user_id="usr_1", created_at="2026-01-01T00:00:00Z"), ["email#h"], wallet)


def test_a_transaction_conflict_is_retried(outcomes):
    queue, calls = outcomes
    queue += [cancelled(None, "TransactionConflict", None, None), cancelled("TransactionConflict", None, None, None)]
    register()
    assert len(calls) == 3


def test_a_failed_condition_is_not_retried(outcomes):
    queue, calls = outcomes
    queue.append(cancelled(None, "ConditionalCheckFailed", None, None))
    with pytest.raises(EmailTaken):
        register()
    assert len(calls) == 1


def test_endless_contention_is_a_503_not_a_500(outcomes):
    queue, calls = outcomes
    queue += [cancelled("TransactionConflict", None, None, None)] * 20
    with pytest.raises(ServiceUnavailable):
        register()
    assert len(calls) == conn.MAX_ATTEMPTS
