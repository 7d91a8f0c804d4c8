"""Public system routes (health, OpenAPI) and the routes that answer everything else."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint, Chalice

from chalicelib.api import auth
from chalicelib.api.errors import error_response
from chalicelib.api.routing import Call, Reply, route, served_methods
from chalicelib.api.schemas import Health
from chalicelib.domain.errors import MethodNotAllowed, NotFound

bp = Blueprint(__name__)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@route(bp, "/health", "GET", summary="Liveness check", public=True, response=Health, tags=("system",))
def health(call: Call) -> Health:
    return Health(status="ok")


@route(bp, "/openapi.json", "GET", summary="This API's OpenAPI 3 document", public=True, tags=("system",))
def openapi(call: Call) -> dict[str, Any]:
    from chalicelib.api.openapi import build_document

    return build_document(call.app)


def add_fallback_routes(app: Chalice) -> None:
    """Answer unknown paths (404) and unsupported methods (405) in the contract's shape.

    API Gateway answers both itself, with its own body, unless a route exists: so every path gets
    an explicit 405 view for the methods it lacks, and a greedy `/{proxy+}` catches unknown paths.
    Call once, after every blueprint is registered. The fallbacks are not public: without a token
    they answer 401 like any protected route, so they do not reveal which paths exist.
    """
    for path, views in list(app.routes.items()):
        missing = [m for m in METHODS if m not in views]
        if not missing:
            continue
        public = all(getattr(v.view_function, "public", False) for v in views.values())
        allow = ", ".join(served_methods(app, path))

        def not_allowed(call: Call, _allow: str = allow, **_: str) -> Any:
            return error_response(MethodNotAllowed(), headers={"Allow": _allow})

        name = "method_not_allowed_" + "".join(c if c.isalnum() else "_" for c in path)
        for method in missing:
            route(app, path, method, summary="Method not allowed", public=public,
                  hidden=True, fallback=True)(_named(not_allowed, f"{name}_{method.lower()}"))

    for path, views in list(app.routes.items()):
        if "OPTIONS" in views:
            continue
        methods = ", ".join(sorted({*views, "OPTIONS"}))

        def preflight(call: Call, _methods: str = methods, **_: str) -> Any:
            # CORS preflight; the middleware adds Allow-Origin for configured origins only.
            return Reply(status=204, headers={"Access-Control-Allow-Methods": _methods,
                                              "Access-Control-Allow-Headers": auth.CORS_ALLOW_HEADERS,
                                              "Access-Control-Max-Age": "600"})

        route(app, path, "OPTIONS", summary="CORS preflight", public=True, hidden=True, content_types=("*/*",),
              fallback=True)(
            _named(preflight, "preflight_" + "".join(c if c.isalnum() else "_" for c in path)))

    def not_found(call: Call, **_: str) -> Any:
        raise NotFound("No such route.")

    for method in METHODS:
        route(app, "/{proxy+}", method, summary="Unknown path", hidden=True)(
            _named(not_found, f"not_found_{method.lower()}"))
        # API Gateway passes the greedy value as `proxy`, Chalice would look for `proxy+`:
        # the view does not need it, so ask for no path arguments at all.
        app.routes["/{proxy+}"][method].view_args = []
        if "/" not in app.routes or method not in app.routes["/"]:
            route(app, "/", method, summary="Unknown path", hidden=True)(
                _named(not_found, f"root_{method.lower()}"))


def _named(fn: Any, name: str) -> Any:
    def view(call: Call, **params: str) -> Any:
        return fn(call, **params)

    view.__name__ = view.__qualname__ = name
    return view
