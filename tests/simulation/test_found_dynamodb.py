"""Defects the DynamoDB Local mode of the simulator found, kept as plain tests that need no stack."""
from __future__ import annotations

import pytest
from botocore.exceptions import ReadTimeoutError
from pynamodb.exceptions import PutError, TransactWriteError

from chalicelib.adapters.dynamodb.connection import transact
from chalicelib.adapters.dynamodb.models import written

# botocore's timeouts (ReadTimeoutError, ConnectionClosedError) carry `response = None`, and
# PynamoDB's `cause_response_code` reads `getattr(cause, "response", {}).get(...)`: it raises
# AttributeError for them instead of answering None (chalicelib/adapters/dynamodb/errors.py
# reads the code safely now).
TIMEOUT = ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


def test_a_conditional_write_whose_answer_timed_out_fails_as_a_storage_error():
    """A conditional write (`written`) whose answer timed out after botocore's retries: the
    caller must get the storage error (a 500, retried), not an AttributeError."""
    def write() -> None:
        raise PutError("Failed to put item", TIMEOUT)

    with pytest.raises(PutError):
        written(write)


def test_a_transaction_whose_answer_timed_out_fails_as_a_storage_error():
    """The same in `transact`, which every PynamoDB transaction goes through (sign-up, the
    claim of a Stripe call, a verification)."""
    def write(tx: object) -> None:
        raise TransactWriteError("Failed to write transaction items", TIMEOUT)

    with pytest.raises(TransactWriteError):
        transact(write)
