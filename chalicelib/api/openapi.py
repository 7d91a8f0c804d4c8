"""Build the OpenAPI 3.1 document from the app's routes and their models (never by hand)."""
from __future__ import annotations

import re
from typing import Any, Literal

from chalice import Chalice
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from chalicelib.api.errors import STATUS_BY_CODE
from chalicelib.api.routing import RouteSpec
from chalicelib.api.schemas import ErrorBody

REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"{([^}+]+)}")


Mode = Literal["validation", "serialization"]
Refs = dict[Any, Any]


def _models(specs: list[RouteSpec]) -> list[tuple[type[BaseModel], Mode]]:
    # Request bodies are described as they are validated, responses as they are serialized.
    seen: dict[tuple[type[BaseModel], Mode], None] = {(ErrorBody, "serialization"): None}
    for spec in specs:
        if spec.body is not None:
            seen[(spec.body, "validation")] = None
        if spec.response is not None:
            seen[(spec.response, "serialization")] = None
    return list(seen)


def _accepts_empty(model: type[BaseModel]) -> bool:
    try:
        model.model_validate({})
    except ValidationError:
        return False
    return True


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    return [{"name": name, "in": "query", "required": name in required, "schema": prop}
            for name, prop in schema.get("properties", {}).items()]


def _operation(spec: RouteSpec, refs: Refs) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": spec.summary,
        "operationId": f"{spec.method.lower()}_{re.sub(r'[^a-zA-Z0-9]+', '_', spec.path).strip('_') or 'root'}",
        "tags": list(spec.tags),
    }
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(spec.path)
    ]
    # A header named with a trailing "?" may be left out (an optional Idempotency-Key).
    params += [{"name": name.rstrip("?"), "in": "header", "required": not name.endswith("?"),
                "schema": {"type": "string", "minLength": 1, "maxLength": 255}}
               for name in spec.headers]
    if spec.query is not None:
        params += _query_parameters(spec.query)
    if params:
        op["parameters"] = params
    if spec.body is not None:
        # A body may be left out when `{}` would do (it reads as `{}`): the schema may still ask
        # more of a body that is sent (a refresh token, unless the web wallet's cookie stands in).
        op["requestBody"] = {"required": not _accepts_empty(spec.body),
                             "content": {"application/json": {"schema": refs[(spec.body, "validation")]}}}
    ok: dict[str, Any] = {"description": spec.summary}
    if spec.response is not None and spec.status != 204:
        ok["content"] = {"application/json": {"schema": refs[(spec.response, "serialization")]}}
        ok["content"].update({media: {"schema": schema} for media, schema in spec.alternates})
    responses: dict[str, Any] = {str(spec.status): ok}
    codes = list(spec.errors)
    if spec.body is not None or spec.query is not None:
        codes.append("invalid_request")
    if spec.body is not None:
        codes.append("payload_too_large")  # any body over 64 KiB, before anything else
    if not spec.public:
        codes.append("unauthorized")
    if spec.needs_verified_account:
        codes.append("verification_required")  # api.auth: before the view, for every such route
    for code in codes:
        status = str(STATUS_BY_CODE[code])
        entry = responses.setdefault(status, {
            "description": "",
            "content": {"application/json": {"schema": refs[(ErrorBody, "serialization")]}},
        })
        entry["description"] = ", ".join(filter(None, [entry["description"], code]))
    op["responses"] = responses
    op["security"] = [] if spec.public else [{"bearerAuth": []}]
    return op


def route_specs(app: Chalice) -> list[RouteSpec]:
    """The specs of the app's routes, as registered with `api.routing.route`."""
    specs = []
    for views in app.routes.values():
        for entry in views.values():
            spec = getattr(entry.view_function, "spec", None)
            if spec is not None and not spec.hidden:
                specs.append(spec)
    return specs


def build_document(app: Chalice, title: str = "E-wallet API", version: str = "1.0.0") -> dict[str, Any]:
    specs = route_specs(app)
    refs, defs = models_json_schema(_models(specs), ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for spec in sorted(specs, key=lambda s: (s.path, s.method)):
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "Serverless e-wallet. Money is integer minor units plus ISO 4217 currency."},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
