"""Statements people can check: balances at an instant, monthly statements (JSON, CSV, PDF),
the ledger's public key and latest checkpoint; and the bodies of the chainer (entries stream)
and the checkpoint (scheduled) functions. docs/statements.md."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from chalice import Blueprint, Response
from pydantic import Field

from chalicelib.api.identity import Jwks
from chalicelib.api.routing import Call, route
from chalicelib.api.schemas import Schema
from chalicelib.container import get_container

if TYPE_CHECKING:  # the use cases' types; their modules wait for the first request (cold start)
    from chalicelib.domain.results import BalanceView, CheckpointMade, CheckpointView

bp = Blueprint(__name__)

PDF = "application/pdf"
CSV = "text/csv; charset=utf-8"


class BalanceQuery(Schema):
    at: Annotated[str, Field(min_length=1, max_length=40, description="An RFC 3339 instant, e.g. 2025-01-31T23:59:59Z")]


class BalanceOut(Schema):
    wallet_id: str
    currency: str
    at: str
    balance: int = Field(description="Posted balance at that instant, minor units (holds ignored)")


class StatementQuery(Schema):
    format: Literal["json", "csv", "pdf"] = "json"
    checkpoint: Annotated[str, Field(min_length=1, max_length=40, description=(
        "Prove against this checkpoint (one a person saved) instead of the latest"))] | None = None


class Period(Schema):
    from_: str = Field(alias="from")
    to: str


class StatementItem(Schema):
    seq: int | None = Field(description="Place in its chain (null: posted moments ago, not chained yet)")
    chain: str = Field(description="The chain: the wallet id, or a credit shard's id for a high-volume wallet")
    posted_at: str
    transfer_id: str
    type: str
    direction: Literal["debit", "credit"]
    amount: int
    balance_after: int
    hash: str | None
    prev_hash: str | None


class ChainProof(Schema):
    chain: str
    head: dict[str, Any] = Field(description="{seq, hash}: the chain's head at the checkpoint")
    path: list[dict[str, str]] = Field(description="Merkle path from the head's leaf to the root: {side, hash}")
    tail: list[dict[str, Any]] = Field(description="The chain's links after the statement's last item, to the head")


class CheckpointOut(Schema):
    checkpoint_id: str
    at: str
    root: str
    jws: str


class Proof(Schema):
    checkpoint: CheckpointOut
    chains: list[ChainProof]


class StatementOut(Schema):
    wallet_id: str
    currency: str
    period: Period
    opening_balance: int
    closing_balance: int
    items: list[StatementItem]
    proof: Proof | None = Field(description="null until a checkpoint covers the last item (at most an hour)")


@route(bp, "/wallets/{wallet_id}/balance", "GET", summary="The wallet's posted balance at an instant",
       query=BalanceQuery, response=BalanceOut, errors=("not_found",), tags=("statements",))
def balance(call: Call, wallet_id: str) -> BalanceView:
    return get_container().statements.balance(call.user_id, wallet_id, call.query.at)


@route(bp, "/wallets/{wallet_id}/statements/{month}", "GET",
       summary="A month's statement (UTC) with its proof; ?format=csv or pdf (send Accept: application/pdf)",
       query=StatementQuery, response=StatementOut, errors=("not_found",), tags=("statements",),
       alternates=(("text/csv", {"type": "string"}), (PDF, {"type": "string", "format": "binary"})))
def statement(call: Call, wallet_id: str, month: str) -> Any:
    from chalicelib.services.statements import statement_csv

    s = get_container().statements.statement(call.user_id, wallet_id, month, call.query.checkpoint)
    name = f"statement-{wallet_id}-{month}"
    if call.query.format == "csv":
        return Response(body=statement_csv(s), status_code=200, headers={
            "Content-Type": CSV, "Content-Disposition": f'attachment; filename="{name}.csv"'})
    if call.query.format == "pdf":
        from chalicelib.adapters.statement_pdf import render

        # The adapter reads the view as JSON (its signature is still a dict: adapters are not in this change).
        return Response(body=render(cast(dict[str, Any], s)), status_code=200, headers={
            "Content-Type": PDF, "Content-Disposition": f'attachment; filename="{name}.pdf"'})
    return s


@route(bp, "/.well-known/ledger-keys.json", "GET", summary="Public keys that sign the ledger's checkpoints",
       public=True, response=Jwks, tags=("statements",))
def ledger_keys(call: Call) -> dict[str, Any]:
    return dict(get_container().ledger_keys.jwks())


@route(bp, "/ledger/checkpoints/latest", "GET", summary="The latest signed checkpoint of every chain head",
       public=True, response=CheckpointOut, errors=("not_found",), tags=("statements",))
def latest_checkpoint(call: Call) -> CheckpointView:
    return get_container().statements.latest()


# -- functions ----------------------------------------------------------------------------------
def chain_entries(records: list[dict[str, Any]]) -> int:
    """The chainer's body: posted entries of a batch of entries-stream records into their
    chains. A failure fails the batch (retried in order): nothing is skipped."""
    from chalicelib import observability
    from chalicelib.adapters.dynamodb.chain import postings
    from chalicelib.adapters.dynamodb.stream import changes

    c = get_container()
    chained = c.chainer.chain(postings(changes(records, c.settings.table_prefix)))
    observability.count("EntriesChained", chained)
    observability.flush()
    return chained


def make_checkpoint() -> CheckpointMade:
    """The scheduled checkpoint: a signed Merkle root over every chain head."""
    from chalicelib import observability

    done = get_container().statements.make_checkpoint()
    observability.flush()
    return done
