from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from devstack import greedy_routes

greedy_routes.install()  # what API Gateway does for /{proxy+}; see devstack/greedy_routes.py


class HttpClient:
    """chalice.test.Client with JSON helpers; every call returns (status, json body, headers)."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def request(self, method: str, path: str, body: Any = None, *, raw: str | bytes | None = None,
                headers: dict[str, str] | None = None, token: str | None = None):
        h = {"Content-Type": "application/json", **(headers or {})}
        if token:
            h["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body) if body is not None else b"")
        r = self._c.http.request(method, path, body=data.encode() if isinstance(data, str) else data, headers=h)
        return r.status_code, (json.loads(r.body) if r.body else None), r.headers


@pytest.fixture
def env():
    """The identity service on fakes, installed in the app's container."""
    from chalicelib.container import Container, set_container
    from tests.unit.identity_env import make_env

    e = make_env()
    c = Container(identity=e.identity, mfa=e.mfa, jwt_keys=e.jwt, access_tokens=e.identity)
    set_container(c)
    yield e
    set_container(None)


@pytest.fixture
def http(env) -> Iterator[HttpClient]:
    import app

    with Client(app.app) as client:
        yield HttpClient(client)
