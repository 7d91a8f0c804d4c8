"""The `route` decorator on a small app of its own: validation, errors, auth, OpenAPI."""
from __future__ import annotations

import json
from typing import Annotated

import pytest
from chalice import Chalice
from chalice.test import Client
from openapi_spec_validator import validate
from pydantic import BaseModel, Field

from chalicelib.api import auth, system
from chalicelib.api.openapi import build_document
from chalicelib.api.routing import Call, Reply, route
from chalicelib.domain.errors import NotFound, TooManyRequests, Unauthorized, VerificationRequired
from chalicelib.domain.principal import PendingSession, Principal


class PayIn(BaseModel):
    amount: Annotated[int, Field(strict=True, gt=0)]
    currency: str


class PayOut(BaseModel):
    amount: int
    user: str


class Page(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)


SESSION_READS: list[str] = []
USER_READS: list[str] = []
# Tokens issued before the account had a verified contact (no `cv`): "unproven" still has none,
# "proven-since" verified one after the token was issued; "unproven-revoked" has ended.
UNPROVEN = ("unproven", "proven-since", "unproven-revoked")


class Verifier:
    """"good" is an active login of a verified account; "revoked" a valid signature whose
    login has ended; UNPROVEN ones carry no `cv` claim."""

    def verify_access(self, token: str) -> Principal:
        principal = self.verify_token(token)
        self.confirm_session(principal)
        return Principal(user_id="u1", session_id=token, verified=principal.verified)

    def verify_token(self, token: str) -> Principal:
        if token not in ("good", "revoked", *UNPROVEN):
            raise Unauthorized()
        return Principal(user_id="u1", session_id=token, pending=PendingSession(token),
                         verified=token not in UNPROVEN)

    def confirm_session(self, principal: Principal) -> None:
        SESSION_READS.append(str(principal.session_id))
        if principal.session_id not in ("good", "unproven", "proven-since"):
            raise Unauthorized()

    def require_verified(self, principal: Principal) -> None:
        USER_READS.append(str(principal.session_id))
        if principal.session_id != "proven-since":
            raise VerificationRequired()


def build_app() -> Chalice:
    app = Chalice("routing-test")
    auth.install(app, Verifier)

    @route(app, "/pay", "POST", summary="pay", body=PayIn, response=PayOut, status=201)
    def pay(call: Call) -> PayOut:
        return PayOut(amount=call.body.amount, user=call.user_id)

    @route(app, "/things/{thing_id}", "GET", summary="thing", query=Page, errors=("not_found",))
    def thing(call: Call, thing_id: str) -> dict:
        if thing_id == "missing":
            raise NotFound()
        if thing_id == "boom":
            raise RuntimeError("secret internals")
        if thing_id == "slow":
            raise TooManyRequests(retry_after=7)
        return {"id": thing_id, "limit": call.query.limit}

    @route(app, "/pay-fast", "POST", summary="pay, reading the session itself", body=PayIn, status=201,
           reads_session=True)
    def pay_fast(call: Call) -> dict:
        pending = call.pending_session
        assert pending is not None
        if call.body.amount == 1:  # the view's own batch read found the login active
            pending.confirmed = True
        if call.body.amount == 2:
            raise NotFound()  # answered before any read of the session
        return {"confirmed": pending.confirmed}

    @route(app, "/verify", "POST", summary="allowed before any contact is verified", status=204,
           unverified_ok=True)
    def verify(call: Call) -> Reply:
        return Reply(status=204)

    @route(app, "/open", "DELETE", summary="public", public=True, status=204)
    def open_(call: Call) -> Reply:
        return Reply(status=204)

    system.add_fallback_routes(app)
    return app


@pytest.fixture(scope="module")
def client():
    with Client(build_app()) as c:
        yield c


def call(client, method, path, raw=None, token="good", ctype="application/json"):
    headers = {"Content-Type": ctype}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    r = client.http.request(method, path, body=raw, headers=headers)
    return r.status_code, (json.loads(r.body) if r.body else None), r.headers


def test_valid_body_reaches_the_view_with_the_principal(client):
    assert call(client, "POST", "/pay", '{"amount": 5, "currency": "USD"}')[:2] == (
        201, {"amount": 5, "user": "u1"})


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"str"', "\xff"])
def test_malformed_bodies_are_invalid_request(client, raw):
    status, body, _ = call(client, "POST", "/pay", raw)
    assert status == 400 and body["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("amount", [12.5, 10.0, True, "100", 0, -1, None])
def test_bad_amounts_name_the_field(client, amount):
    status, body, _ = call(client, "POST", "/pay", json.dumps({"amount": amount, "currency": "USD"}))
    assert status == 400 and body["error"]["code"] == "invalid_request"
    assert [d["field"] for d in body["error"]["details"]] == ["amount"]


def test_empty_body_lists_every_missing_field(client):
    status, body, _ = call(client, "POST", "/pay", "")
    assert status == 400
    assert sorted(d["field"] for d in body["error"]["details"]) == ["amount", "currency"]


def test_query_is_validated(client):
    assert call(client, "GET", "/things/a?limit=5")[:2] == (200, {"id": "a", "limit": 5})
    status, body, _ = call(client, "GET", "/things/a?limit=500")
    assert status == 400 and body["error"]["details"][0]["field"] == "limit"


def test_domain_errors_and_crashes_map_once(client):
    assert call(client, "GET", "/things/missing")[1]["error"]["code"] == "not_found"
    status, body, _ = call(client, "GET", "/things/boom")
    assert status == 500 and body == {"error": {"code": "internal_error", "message": "An internal error occurred."}}
    status, _, headers = call(client, "GET", "/things/slow")
    assert status == 429 and headers["Retry-After"] == "7"


def test_a_route_that_reads_the_session_itself_is_checked_after_the_view_if_it_did_not(client):
    pay = '{"amount": %d, "currency": "USD"}'
    SESSION_READS.clear()
    assert call(client, "POST", "/pay-fast", pay % 1)[:2] == (201, {"confirmed": True})
    assert SESSION_READS == []  # confirmed by the view: no second read
    assert call(client, "POST", "/pay-fast", pay % 5)[0] == 201
    assert SESSION_READS == ["good"]  # not confirmed by the view: the middleware read it
    # A revoked login never sees what the view would answer (here a 404), nor a body error.
    assert call(client, "POST", "/pay-fast", pay % 2, token="revoked")[0] == 401
    assert call(client, "POST", "/pay-fast", "{", token="revoked")[0] == 401
    assert call(client, "POST", "/pay", pay % 5, token="revoked")[0] == 401  # other routes read first


def test_an_account_without_a_verified_contact_may_only_read_and_verify(client):
    pay = '{"amount": 5, "currency": "USD"}'
    USER_READS.clear()
    for path in ("/pay", "/pay-fast"):
        status, body, _ = call(client, "POST", path, pay, token="unproven")
        assert (status, body["error"]["code"]) == (403, "verification_required"), path
    assert call(client, "GET", "/things/a", token="unproven")[0] == 200
    assert call(client, "POST", "/verify", token="unproven")[0] == 204
    assert call(client, "PUT", "/pay", pay, token="unproven")[0] == 405  # the contract's 405 first
    assert call(client, "DELETE", "/open", token=None)[0] == 204
    assert USER_READS == ["unproven", "unproven"]  # only the two gated requests read the account
    # Verified since the token was issued: let through (one read); a verified token reads nothing.
    assert call(client, "POST", "/pay", pay, token="proven-since")[0] == 201
    assert call(client, "POST", "/pay-fast", pay, token="proven-since")[0] == 201
    USER_READS.clear()
    assert call(client, "POST", "/pay", pay)[0] == 201
    assert call(client, "POST", "/pay-fast", pay)[0] == 201
    assert USER_READS == []
    # A revoked login gets its 401, not a 403 that would tell the account is unverified; a
    # route that reads its own session reads it before the account, before the view.
    SESSION_READS.clear()
    assert call(client, "POST", "/pay-fast", pay, token="unproven-revoked")[0] == 401
    assert call(client, "POST", "/pay", pay, token="unproven-revoked")[0] == 401
    assert SESSION_READS == ["unproven-revoked", "unproven-revoked"]


def test_auth_is_default_deny_and_public_routes_are_open(client):
    assert call(client, "POST", "/pay", '{"amount": 5, "currency": "USD"}', token=None)[0] == 401
    assert call(client, "POST", "/pay", '{"amount": 5, "currency": "USD"}', token="forged")[0] == 401
    status, body, _ = call(client, "DELETE", "/open", token=None)
    assert (status, body) == (204, None)


def test_unknown_paths_are_404_with_a_token(client):
    for path in ["/nope", "/nope/deeper/still", "/"]:
        status, body, _ = call(client, "GET", path)
        assert status == 404 and body["error"]["code"] == "not_found", path


def test_openapi_describes_bodies_queries_and_errors():
    doc = build_document(build_app())
    validate(doc)
    pay = doc["paths"]["/pay"]["post"]
    assert set(pay["responses"]) == {"201", "400", "401", "403", "413"}
    assert pay["responses"]["403"]["description"] == "verification_required"
    assert "403" not in doc["paths"]["/verify"]["post"]["responses"]  # unverified_ok
    assert "403" not in doc["paths"]["/things/{thing_id}"]["get"]["responses"]  # a read
    schema_name = pay["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert doc["components"]["schemas"][schema_name]["properties"]["amount"]["exclusiveMinimum"] == 0
    thing = doc["paths"]["/things/{thing_id}"]["get"]
    assert {p["name"] for p in thing["parameters"]} == {"thing_id", "limit"}
    assert "404" in thing["responses"]
    assert doc["paths"]["/open"]["delete"]["security"] == []
