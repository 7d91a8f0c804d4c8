"""Idempotent replays, written once for every money route (transfers, top-ups, withdrawals).

The first complete answer to a request is sealed (encrypted: it may hold a memo or a client
secret) and kept with the request's keyed hash. The same key with the same request opens it
again, as it was, or the same error; the same key with another request is
a misuse (409). HTTP headers (`Idempotent-Replayed`) belong to the routes.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from chalicelib.domain.errors import DomainError, IdempotencyKeyReused

if TYPE_CHECKING:  # a cold start imports this module: its types are for mypy only
    from chalicelib.services.ports import FieldCipher

FIELD = "idempotent_response"  # the encryption context's field name for sealed answers

Body = TypeVar("Body", bound=Mapping[str, object])


@dataclass(frozen=True)
class Outcome(Generic[Body]):
    """What a money-moving call answers: the resource (a typed JSON view, chalicelib.domain.results),
    and whether this is a replay of the first answer. The HTTP status is the route's (api/), not
    the service's."""

    body: Body
    replayed: bool = False


def same_request(stored_hash: str, presented_hash: str) -> None:
    """Refuse a key used before for a different request."""
    if stored_hash != presented_hash:
        raise IdempotencyKeyReused()


def seal(cipher: FieldCipher, owner: str, body: Mapping[str, object]) -> str:
    """The JSON answer, encrypted for the idempotency record (the JSON edge: any view)."""
    return cipher.encrypt(json.dumps({"body": body}), owner, FIELD)


def seal_error(cipher: FieldCipher, owner: str, err: DomainError) -> str:
    """Remember a refusal like a success, so a retry gets the same answer."""
    return cipher.encrypt(json.dumps({"error": {"code": err.code, "message": err.message,
                                                "details": err.details}}), owner, FIELD)


class ReplayedError(DomainError):
    """A refusal replayed as it was first given (its code is the original one)."""

    def __init__(self, code: str, message: str, details: Any) -> None:
        super().__init__(message, details=details)
        self.code = code


def reopen(cipher: FieldCipher, owner: str, sealed: str) -> Outcome[Any]:
    """The first answer again: an Outcome marked replayed, or the first error raised."""
    first = json.loads(cipher.decrypt(sealed, owner, FIELD))
    if "error" in first:
        e = first["error"]
        raise ReplayedError(e["code"], e["message"], e.get("details"))
    return Outcome(first["body"], replayed=True)
