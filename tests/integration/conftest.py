from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _stack_credentials(stack):
    # The emulators accept any credentials; these are the stack's dev-only dummies.
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        os.environ[key] = stack[key]


@pytest.fixture
def bound(stack_settings):
    """PynamoDB models pointed at the stack's DynamoDB Local tables."""
    from chalicelib.adapters.dynamodb.tables import bind

    bind(stack_settings)
    return stack_settings
