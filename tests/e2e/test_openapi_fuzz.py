"""The served /openapi.json, checked by a fuzzer against the running stack: schemathesis
generates requests from the document (valid ones, invalid ones, unexpected methods) and checks
every answer against it, with every check it has. No 5xx, no status or body the document does not
describe, no invalid request accepted and no valid one refused.

Bounded and repeatable: a fixed seed, a fixed number of examples per operation, no example
database, one fresh user.

What JSON Schema cannot state exactly, the document names with a `format` ("email", "phone",
"password": the server's own rules in `domain.contact` and `domain.passwords`); the fuzzer draws
those values from strategies the server's rules accept, and spells whole numbers as integers
(`2.0` is an integer to JSON Schema, and a decimal the money rules refuse). Some answers to
valid requests are no finding, where they depend on what no request schema holds
(`NOT_IN_THE_REQUEST`):
`POST /auth/password/reset` refuses every code but the one e-mailed (422 `invalid_code`),
`POST /webhooks/stripe` every request Stripe did not sign (400 `invalid_signature`),
`POST /auth/refresh` and `/auth/logout` a body left out (which the document allows for the web
wallet, whose refresh token is in its cookie) from a client without that cookie (400), and
`POST /fx/quotes` a `buy_amount` whose sell at the day's rates is over the per-transfer maximum
(400; a `sell_amount`'s maximum is in the document, per currency).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config._operations import OperationConfig
from schemathesis.core.parameters import ParameterLocation

from chalicelib.domain.contact import normalize_email, normalize_phone
from chalicelib.domain.errors import InvalidRequest
from chalicelib.domain.passwords import check_password

EXAMPLES = 15
# A valid request refused for what it cannot carry: the status, per path (see the docstring).
NOT_IN_THE_REQUEST = {
    "/auth/password/reset": "422",  # invalid_code: only the e-mailed code is right
    "/webhooks/stripe": "400",  # invalid_signature: only Stripe signs
    "/auth/refresh": "400",  # no refresh_token in a body left out: only the web wallet's cookie stands in
    "/auth/logout": "400",  # the same
    "/fx/quotes": "400",  # a buy_amount whose sell, at the day's rates, is over the per-transfer maximum
}
PASSWORD = "correct horse battery staple 42"


@pytest.fixture(scope="session")
def fuzz_schema(stack):
    schema = schemathesis.openapi.from_url(stack["API_URL"] + "/openapi.json")
    schema.config.generation.update(max_examples=EXAMPLES, database="none")
    schema.config.seed = 1
    # An invalid body may be invalid by being too big: the 413 the contract promises over 64 KiB
    # is a rejection too.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    accepted = schema.config.checks.positive_data_acceptance.expected_statuses
    for path, status in NOT_IN_THE_REQUEST.items():
        schema.config.operations.operations.append(OperationConfig.from_dict({
            "include-path": path,
            "checks": {"positive_data_acceptance": {"expected-statuses": [*accepted, status]}}}))
    schema.hook(map_body)
    return schema


def map_body(context, body):  # type: ignore[no-untyped-def]  # a schemathesis hook, named as such
    """Whole numbers spelled as integers: JSON Schema cannot tell `2.0` from `2`, and the
    contract refuses an amount written with a fraction (docs/api.md: decimals are refused)."""
    return _integers_as_integers(body)


def _integers_as_integers(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integers_as_integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integers_as_integers(v) for v in value]
    return value


def _accepted_by(rule: Callable[..., object]) -> Callable[[str], bool]:
    def ok(value: str) -> bool:
        try:
            rule(value)
        except InvalidRequest:
            return False
        return True
    return ok


# The document's formats, drawn as the server's rules accept them (`_accepted_by` filters out
# the rare draw they refuse, so the strategy never claims more than the rule).
schemathesis.openapi.format("email", st.from_regex(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,24}(\.[A-Za-z0-9_+-]{1,12})?@([a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?\.){1,2}"
    r"(com|org|net|io|sg|example)", fullmatch=True).filter(_accepted_by(normalize_email)))
schemathesis.openapi.format("phone", st.from_regex(
    r"\+659[1-8][0-9]{6}|\+447[4-9][0-9]{8}|\+3361[0-9]{7}", fullmatch=True).filter(_accepted_by(normalize_phone)))
schemathesis.openapi.format("password", st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=10, max_size=128,
).filter(_accepted_by(check_password)))


@pytest.fixture(scope="session")
def fuzz_token(stack) -> str:
    email = f"fuzz.{uuid.uuid4().hex[:10]}@example.com"
    r = requests.post(stack["API_URL"] + "/auth/register", json={"email": email, "password": PASSWORD}, timeout=10)
    assert r.status_code == 201, r.text
    r = requests.post(stack["API_URL"] + "/auth/login", json={"email": email, "password": PASSWORD}, timeout=10)
    token = str(r.json()["access_token"])
    # Verified, so the fuzzer exercises the routes themselves, not only the 403
    # verification_required that an account without a verified contact gets.
    from tests.outbox import last_code

    auth = {"Authorization": f"Bearer {token}"}
    r = requests.post(stack["API_URL"] + "/me/verify", json={"channel": "email"}, headers=auth, timeout=10)
    assert r.status_code == 202, r.text
    r = requests.post(stack["API_URL"] + "/me/verify/confirm", headers=auth, timeout=10,
                      json={"channel": "email", "code": last_code(stack["AWS_ENDPOINT"], email)})
    assert r.status_code == 200, r.text
    return token


# schemathesis 4.32 renames the running pytest item after each operation through `_nodeid`, an
# attribute pytest 9 no longer has; only the report's naming depends on it.
if not hasattr(pytest.Function, "_nodeid"):
    pytest.Function._nodeid = property(lambda self: self.nodeid, lambda self, value: None)  # type: ignore[attr-defined]

schema = schemathesis.pytest.from_fixture("fuzz_schema")


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_what_the_document_says(case, fuzz_token):
    case.call_and_validate(headers=_auth(case, fuzz_token), timeout=15)


def _auth(case, token: str) -> dict[str, str]:
    """A valid token on every case, except one whose negative part is the missing token itself
    (restoring it would make an invalid request valid, and its 2xx a false finding)."""
    headers = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    dropped = headers is not None and headers.mode.is_negative and "Authorization" not in (case.headers or {})
    return {} if dropped else {"Authorization": f"Bearer {token}"}
