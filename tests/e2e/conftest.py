from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

REQUIRED_ENV = ["API_URL", "DYNAMODB_ENDPOINT", "AWS_ENDPOINT", "STRIPE_API_BASE", "STRIPE_API_KEY",
                "STRIPE_WEBHOOK_SECRET", "OIDC_PRIVATE_KEY_PATH", "OIDC_KEY_ID", "OIDC_AUDIENCE",
                "GOOGLE_ISSUER", "FACEBOOK_ISSUER"]


class Api:
    def __init__(self, base: str, token: str | None = None) -> None:
        self.base, self.token, self.s = base.rstrip("/"), token, requests.Session()

    def request(self, method: str, path: str, json: Any = None, *, data: Any = None,
                headers: dict[str, str] | None = None) -> requests.Response:
        h = {"Content-Type": "application/json"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        h.update(headers or {})
        return self.s.request(method, self.base + path, json=json, data=data, headers=h, timeout=30)


@pytest.fixture(scope="session")
def api(stack) -> Api:
    return Api(stack["API_URL"])


@pytest.fixture(scope="session", autouse=True)
def _stack_credentials(stack):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        os.environ[key] = stack[key]


def wait_for(fn: Callable[[], Any], timeout: float = 30, every: float = 0.3) -> Any:
    end = time.time() + timeout
    while True:
        result = fn()
        if result or time.time() > end:
            return result
        time.sleep(every)


PASSWORD = "correct horse battery staple 42"


def uniq_email(tag: str = "e2e") -> str:
    import uuid

    return f"{tag}.{uuid.uuid4().hex[:10]}@Example.COM"


def uniq_phone() -> str:
    import secrets

    return f"+659{secrets.randbelow(8) + 1}{secrets.randbelow(10**6):06d}"


class User:
    def __init__(self, api: Api, email: str, tokens: dict, user: dict) -> None:
        self.email, self.tokens, self.user = email, tokens, user
        self.api = Api(api.base, tokens["access_token"])


def verify_contact(stack: dict[str, str], user: User, channel: str) -> dict:
    """Verify the user's e-mail or phone the way a person does: ask for a code, read it from
    the local outbox (moto's record of SES and SNS), type it back."""
    from tests.outbox import last_code

    r = user.api.request("POST", "/me/verify", {"channel": channel})
    assert r.status_code == 202, r.text
    address = user.email if channel == "email" else user.user["phone"]
    r = user.api.request("POST", "/me/verify/confirm",
                         {"channel": channel, "code": last_code(stack["AWS_ENDPOINT"], address)})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def new_user(api, stack) -> Callable[..., User]:
    """A registered, logged-in user whose contacts are verified (only verified contacts are
    payment addresses); `verified=False` leaves them unproven."""
    def make(verified: bool = True, **extra: Any) -> User:
        email = extra.pop("email", None) or uniq_email()
        r = api.request("POST", "/auth/register", {"email": email, "password": PASSWORD, **extra})
        assert r.status_code == 201, r.text
        t = api.request("POST", "/auth/login", {"email": email, "password": PASSWORD})
        assert t.status_code == 200, t.text
        user = User(api, email, t.json(), r.json()["user"])
        if verified:
            user.user = verify_contact(stack, user, "email")
            if user.user.get("phone"):
                user.user = verify_contact(stack, user, "phone")
        return user

    return make


@pytest.fixture
def fund(stack_container) -> Callable[..., None]:
    """Credit a wallet from the Stripe clearing account through the ledger service itself."""
    from chalicelib.domain.ids import new_id
    from chalicelib.domain.money import Money

    def credit(wallet_id: str, amount: int, currency: str = "USD") -> None:
        assert stack_container.ledger.credit_from_system("stripe_clearing", wallet_id, Money(amount, currency),
                                                         new_id("tp"))
        FUNDED.append(wallet_id)
    return credit


FUNDED: list[str] = []  # wallets `fund` credited in this session: the ledger then has transfers


@pytest.fixture(scope="session", autouse=True)
def _ledger_reconciles_after_the_whole_suite(stack):
    """After every e2e test has run: the ledger has no drift (docs/architecture.md)."""
    yield
    from chalicelib.adapters.aws import client
    from chalicelib.adapters.dynamodb.ledger import DynamoLedger
    from chalicelib.adapters.dynamodb.offline import DynamoOffline
    from chalicelib.adapters.dynamodb.tables import bind
    from chalicelib.config import Settings
    from chalicelib.services.reconcile import reconcile

    settings = Settings.from_env(stack)
    bind(settings)
    ledger = DynamoLedger(settings, client("dynamodb", settings))
    report = reconcile(ledger, offline=DynamoOffline(ledger))
    assert report.ok, report.drift[:10]
    # Not a check of an empty ledger: money moved (the whole suite funds wallets; the fuzz test
    # run alone, as bench/openapi_fuzz does, may not).
    assert report.transfers > 0 or not FUNDED
    from tests.e2e.log_scan import leaks

    assert leaks(stack) == []  # every journey of the suite: no personal data, token or secret logged


@pytest.fixture
def ops(stack):
    """`python -m ops` against the session's stack (signed with its operator's keys): its JSON."""
    root = Path(__file__).resolve().parents[2]

    def run(*args: str, ok: bool = True) -> Any:
        out = subprocess.run([sys.executable, "-m", "ops", "--stack-dir", stack["STACK_DIR"], *args], cwd=root,
                             capture_output=True, text=True, timeout=60)
        assert (out.returncode == 0) == ok, out.stdout + out.stderr
        return json.loads(out.stdout)
    return run
