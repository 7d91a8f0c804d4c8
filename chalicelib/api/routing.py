"""`route`: how every endpoint is declared.

One decorator gives each view the same treatment: the JSON body and query string are parsed and
validated against pydantic models (400 `invalid_request` naming the fields), domain errors become
contract responses (via `api.errors`), and the route's schemas are recorded on the view
(`endpoint.spec`) so `/openapi.json` is generated from the routes rather than written by hand.
Whether a route is public is recorded on the view too, and the authentication middleware
(`api.auth`) denies every route that is not.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from chalice import Blueprint, Chalice, Response
from chalice.app import Request
from pydantic import BaseModel, ValidationError

from chalicelib.api.errors import error_response, internal_error_response
from chalicelib.domain.errors import DomainError, InvalidRequest, NotFound
from chalicelib.domain.principal import PendingSession, Principal
from chalicelib.services.replay import Outcome

log = logging.getLogger(__name__)

JSON = "application/json"


@dataclass(frozen=True)
class RouteSpec:
    """What `/openapi.json` says about one route."""

    path: str
    method: str
    summary: str
    status: int
    public: bool
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    errors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    hidden: bool = False
    headers: tuple[str, ...] = ()
    fallback: bool = False  # an answer for a method the path does not serve (405, preflight)
    # Open to an account without a verified contact, although it changes something (api.auth).
    unverified_ok: bool = False
    # Other media types the success may be sent as (`?format=`), beside JSON: (type, schema).
    alternates: tuple[tuple[str, dict[str, str]], ...] = ()

    @property
    def needs_verified_account(self) -> bool:
        """Whether an account without a verified e-mail or phone is refused here (403
        `verification_required`): every authenticated route but reads, answers for methods the
        path does not serve, and the few declared `unverified_ok` (verify, password, sessions)."""
        return not (self.public or self.fallback or self.unverified_ok or self.method in ("GET", "HEAD", "OPTIONS"))


def served_methods(app: Chalice, path: str) -> list[str]:
    """The methods a route path really serves (its `Allow`), fallback views left out."""
    views = app.routes.get(path, {})
    return sorted(m for m, e in views.items()
                  if not getattr(getattr(e.view_function, "spec", None), "fallback", False))


MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 32
MAX_PATH_PARAM = 128


def _check_json(data: Any) -> None:
    """Refuse what JSON allows but nothing downstream should see: nesting deeper than
    MAX_DEPTH, and strings (keys included) that are not valid Unicode text (lone surrogates
    from `\\udXXX` escapes, which no UTF-8 encoder, hash or database accepts). Iterative, so
    no input can exhaust the stack."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list) and depth > MAX_DEPTH:
            raise InvalidRequest(f"The JSON is nested deeper than {MAX_DEPTH} levels.")
        if isinstance(value, dict):
            for k, v in value.items():
                _check_text(k)
                stack.append((v, depth + 1))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str):
            _check_text(value)


def _check_text(value: str) -> None:
    if not _is_text(value):
        raise InvalidRequest("A string is not valid Unicode text (lone surrogate).")


@dataclass
class Reply:
    """A view's answer when it needs a status or headers other than the route's defaults."""

    body: Any = None
    status: int | None = None
    headers: dict[str, str | list[str]] = field(default_factory=dict)


def replayable(outcome: Outcome, metric: str) -> Reply:
    """The answer of a keyed call: `Idempotent-Replayed: true` on a replay; the metric counts
    only what really happened the first time."""
    if outcome.replayed:
        return Reply(body=outcome.body, headers={"Idempotent-Replayed": "true"})
    from chalicelib import observability

    observability.count(metric)
    return Reply(body=outcome.body)


@dataclass
class Call:
    """The parsed request handed to a view."""

    app: Chalice
    request: Request
    body: Any = None
    query: Any = None

    @property
    def user_id(self) -> str:
        return str(self.principal.user_id)

    @property
    def principal(self) -> Principal:
        """The caller, as the auth middleware verified it (its session, device and so on)."""
        principal = (self.request.context or {}).get("principal")
        if principal is None:  # unreachable behind the auth middleware; refuse rather than guess
            raise DomainError("no principal on an authenticated route")
        return principal  # type: ignore[no-any-return]

    @property
    def pending_session(self) -> PendingSession | None:
        """The caller's session, left to this view to read (`route(..., reads_session=True)`)."""
        principal = (self.request.context or {}).get("principal")
        return principal.pending if principal is not None else None

    @property
    def headers(self) -> Any:
        return self.request.headers

    @property
    def raw_body(self) -> bytes:
        raw = self.request.raw_body or b""
        return raw.encode("utf-8") if isinstance(raw, str) else raw


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        out.append({"field": loc, "message": err["msg"]})
    return out


def _parse_body(request: Request, model: type[BaseModel]) -> BaseModel:
    raw = request.raw_body or b""
    if raw.strip():
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise InvalidRequest("The body is not valid JSON.") from None
        except RecursionError:  # far deeper than MAX_DEPTH
            raise InvalidRequest(f"The JSON is nested deeper than {MAX_DEPTH} levels.") from None
    else:
        data = {}
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object.")
    _check_json(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest("Some fields are missing or invalid.", details=_field_errors(exc)) from None


def _parse_query(request: Request, model: type[BaseModel]) -> BaseModel:
    for name, value in (request.query_params or {}).items():
        _check_text(name)
        _check_text(value)
    try:
        return model.model_validate(dict(request.query_params or {}))
    except ValidationError as exc:
        raise InvalidRequest("Some query parameters are invalid.", details=_field_errors(exc)) from None


def _serialize(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def route(
    bp: Blueprint | Chalice,
    path: str,
    method: str,
    *,
    summary: str,
    status: int = 200,
    public: bool = False,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    errors: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    hidden: bool = False,
    headers: tuple[str, ...] = (),
    content_types: tuple[str, ...] = (JSON,),
    fallback: bool = False,
    reads_session: bool = False,
    unverified_ok: bool = False,
    alternates: tuple[tuple[str, dict[str, str]], ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an endpoint; see the module docstring for what it adds to the view."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def endpoint(**path_params: str) -> Response:
            app = bp.current_app if isinstance(bp, Blueprint) else bp
            request = app.current_request
            assert request is not None  # Chalice sets it before calling any view
            try:
                for value in path_params.values():
                    # No id is this long, and text that is not Unicode names nothing.
                    if len(value) > MAX_PATH_PARAM or not _is_text(value):
                        raise NotFound()
                call = Call(app=app, request=request)
                if body is not None:
                    call.body = _parse_body(request, body)
                if query is not None:
                    call.query = _parse_query(request, query)
                result = view(call, **path_params)
            except DomainError as err:
                return error_response(err)
            except Exception:
                # Log the traceback for us, answer the client without it.
                log.exception("unhandled error in %s %s", method, path)
                return internal_error_response()
            if isinstance(result, Response):
                return result
            reply = result if isinstance(result, Reply) else Reply(body=result)
            code = reply.status or status
            if code == 204:
                # An empty string, not None: Chalice would send the JSON `null` as a 204's body.
                return Response(body="", status_code=204, headers=reply.headers)
            return Response(body=_serialize(reply.body), status_code=code, headers=reply.headers)

        endpoint.public = public  # type: ignore[attr-defined]  # read by api.auth
        # The view confirms `call.pending_session` in its first read, before any write (api.auth).
        endpoint.reads_session = reads_session  # type: ignore[attr-defined]
        endpoint.spec = RouteSpec(  # type: ignore[attr-defined]  # read by api.openapi
            path=path, method=method, summary=summary, status=status, public=public, body=body,
            query=query, response=response, errors=errors, tags=tags, hidden=hidden, headers=headers,
            fallback=fallback, unverified_ok=unverified_ok, alternates=alternates)
        bp.route(path, methods=[method], content_types=list(content_types))(endpoint)
        return endpoint

    return decorate
