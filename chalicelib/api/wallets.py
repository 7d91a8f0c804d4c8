"""Wallets, statements and transfers."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from chalice import Blueprint
from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from chalicelib.api.routing import Call, Reply, replayable, route
from chalicelib.api.schemas import Body, Email, Phone, Schema, limit_per_currency
from chalicelib.container import get_container

if TYPE_CHECKING:  # the use cases' types; their modules wait for the first request (cold start)
    from chalicelib.domain.commands import Address, SendTransfer
    from chalicelib.domain.results import TransferView, WalletView

bp = Blueprint(__name__)

Amount = Annotated[int, Field(strict=True, gt=0, description="Integer minor units (1250 = 12.50 USD)")]


def not_null(value: Any) -> Any:
    """An optional field may be left out, never sent as null (its schema has no null)."""
    if value is None:
        raise ValueError("may be left out, but not null")
    return value


def _no_default(schema: dict[str, Any]) -> None:
    # Left out means "not given", not a null default (a null default is not of the field's type).
    schema.pop("default", None)


def absent() -> Any:
    """The default of a field a body may leave out but never send as null (with `not_null`)."""
    return Field(default=None, json_schema_extra=_no_default)


def _supported_currencies(schema: dict[str, Any]) -> None:
    # The document lists the configured currencies (read when it is built, never at import).
    from chalicelib.config import get_settings

    schema["enum"] = list(get_settings().currencies)


Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="Upper-case ISO 4217, one of the configured",
                                json_schema_extra=_supported_currencies)]


class WalletOut(Schema):
    wallet_id: str
    currency: str
    name: str
    balance: int
    held: int
    available: int
    is_default: bool
    created_at: str


class WalletList(Schema):
    items: list[WalletOut]


class OpenWalletIn(Body):
    currency: Currency
    name: Annotated[str, Field(min_length=1, max_length=60)] | None = None


class PageQuery(Schema):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: Annotated[str, Field(max_length=512)] | None = None


class EntryOut(Schema):
    transfer_id: str
    type: str
    direction: Literal["debit", "credit"]
    amount: int
    currency: str
    status: Literal["posted", "pending", "voided"]
    counterparty: str | None = None
    memo: str | None = None
    created_at: str


class EntryPage(Schema):
    items: list[EntryOut]
    next_cursor: str | None


def address(email: str | None, phone: str | None) -> Address | None:
    """The e-mail or the phone a validated body gives (at most one), as the command's."""
    from chalicelib.domain.commands import Address

    if email is not None:
        return Address("email", email)
    return Address("phone", phone) if phone is not None else None


def one_address(*names: str) -> list[dict[str, Any]]:
    """One variant per address: that one given (not null), each other one left out or null."""
    return [{"required": [name], "properties": {
        name: {"not": {"type": "null"}}, **{other: {"type": "null"} for other in names if other != name}}}
        for name in names]


def _recipient_variants(schema: dict[str, Any]) -> None:
    # Exactly one of wallet_id, email, phone; `invite: true` only with an e-mail or a phone.
    variants = one_address("wallet_id", "email", "phone")
    variants[0]["properties"]["invite"] = {"enum": [False, None]}
    schema["oneOf"] = variants


class Recipient(Body):
    model_config = ConfigDict(json_schema_extra=_recipient_variants)

    wallet_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    email: Email | None = None
    phone: Phone | None = None
    invite: bool | None = Field(default=None, description=(
        "With email or phone: if nobody has verified that contact, hold the money for them and "
        "send an invitation (status unclaimed) instead of answering recipient_not_found"))

    @model_validator(mode="after")
    def exactly_one(self) -> Recipient:
        if sum(v is not None for v in (self.wallet_id, self.email, self.phone)) != 1:
            raise ValueError("give exactly one of wallet_id, email, phone")
        if self.invite and self.wallet_id is not None:
            raise ValueError("invite goes with email or phone")
        return self


def _amount_or_quote(schema: dict[str, Any]) -> None:
    # Either amount and currency (at most the per-transfer maximum of the currency), or an
    # exchange quote (delivered in its buy currency), never both.
    schema["oneOf"] = [
        {"required": ["amount", "currency"], "not": {"required": ["quote_id"]},
         "allOf": limit_per_currency("amount", "currency")},
        {"required": ["quote_id"], "not": {"anyOf": [{"required": ["amount"]}, {"required": ["currency"]}]}}]


class TransferIn(Body):
    model_config = ConfigDict(json_schema_extra=_amount_or_quote)

    from_wallet_id: Annotated[str, Field(min_length=1, max_length=100)]
    to: Recipient
    # Absent, not null: a default the body may leave out but never send as null (the document
    # then says exactly what is refused).
    amount: Amount | SkipJsonSchema[None] = absent()
    currency: Currency | SkipJsonSchema[None] = absent()
    quote_id: Annotated[str, Field(min_length=1, max_length=100, description=(
        "Instead of amount and currency: pay the quote's sell amount, delivered as its buy amount in the "
        "recipient's wallet of the buy currency (POST /fx/quotes)"))] | SkipJsonSchema[None] = absent()
    memo: Annotated[str, Field(max_length=280)] | None = None

    _no_nulls = field_validator("amount", "currency", "quote_id", mode="before")(not_null)

    @model_validator(mode="after")
    def amount_or_quote(self) -> TransferIn:
        if self.quote_id is not None and (self.amount is not None or self.currency is not None):
            raise ValueError("give amount and currency, or quote_id, not both")
        if self.quote_id is None and (self.amount is None or self.currency is None):
            raise ValueError("amount and currency are required (or quote_id)")
        return self

    def command(self) -> SendTransfer:
        from chalicelib.domain.commands import SendTransfer

        to = self.to
        return SendTransfer(from_wallet_id=self.from_wallet_id, to_wallet_id=to.wallet_id,
                            to_address=address(to.email, to.phone), invite=bool(to.invite),
                            amount=self.amount, currency=self.currency, quote_id=self.quote_id, memo=self.memo)


class MoneyOut(Schema):
    amount: int
    currency: str


class TransferOut(Schema):
    transfer_id: str
    type: str
    status: Literal["posted", "pending", "voided", "unclaimed", "canceled", "expired"]
    from_wallet_id: str
    to_wallet_id: str | None = Field(description="null while an invitation is not claimed")
    amount: int
    currency: str
    memo: str | None
    created_at: str
    claim_expires_at: str | None = Field(default=None, description="Invitations only: when the money goes back")
    delivered: MoneyOut | None = Field(default=None, description=(
        "Paid with an exchange quote only: what the recipient's wallet received, in its currency"))


@route(bp, "/wallets", "GET", summary="The caller's wallets", response=WalletList, tags=("wallets",))
def list_wallets(call: Call) -> dict[str, list[WalletView]]:
    from chalicelib.domain.results import wallet_view

    return {"items": [wallet_view(w) for w in get_container().ledger.wallets(call.user_id)]}


@route(bp, "/wallets", "POST", summary="Open a wallet in a currency", body=OpenWalletIn, response=WalletOut,
       status=201, tags=("wallets",))
def open_wallet(call: Call) -> WalletView:
    from chalicelib.domain.results import wallet_view

    return wallet_view(get_container().ledger.open_wallet(call.user_id, call.body.currency, call.body.name))


@route(bp, "/wallets/{wallet_id}", "GET", summary="One wallet", response=WalletOut, errors=("not_found",),
       tags=("wallets",))
def get_wallet(call: Call, wallet_id: str) -> WalletView:
    from chalicelib.domain.results import wallet_view

    return wallet_view(get_container().ledger.wallet(call.user_id, wallet_id))


@route(bp, "/wallets/{wallet_id}/transactions", "GET", summary="The wallet's statement, newest first",
       query=PageQuery, response=EntryPage, errors=("not_found",), tags=("wallets",))
def statement(call: Call, wallet_id: str) -> dict:
    items, cursor = get_container().ledger.statement(call.user_id, wallet_id, call.query.limit, call.query.cursor)
    return {"items": items, "next_cursor": cursor}


@route(bp, "/transfers", "POST", summary="Pay a wallet, or a person by e-mail or phone", body=TransferIn,
       response=TransferOut, status=201, headers=("Idempotency-Key",),
       errors=("idempotency_key_required", "idempotency_key_reused", "not_found", "recipient_not_found",
               "currency_mismatch", "same_wallet", "insufficient_funds", "account_frozen", "limit_exceeded",
               "too_many_requests", "quote_expired", "quote_used"),
       tags=("transfers",),
       reads_session=True)
def create_transfer(call: Call) -> Reply:
    outcome = get_container().ledger.transfer(call.user_id, call.headers.get("idempotency-key"),
                                              call.body.command(), session=call.pending_session)
    return replayable(outcome, "InvitationSent" if outcome.body["status"] == "unclaimed" else "TransferPosted")


@route(bp, "/transfers/{transfer_id}", "GET", summary="A transfer, for its sender or recipient",
       response=TransferOut, errors=("not_found",), tags=("transfers",))
def get_transfer(call: Call, transfer_id: str) -> TransferView:
    return get_container().ledger.get_transfer(call.user_id, transfer_id)


@route(bp, "/transfers/{transfer_id}/cancel", "POST", summary="Take back money nobody has claimed yet",
       response=TransferOut, errors=("not_found", "transfer_not_cancelable"), tags=("transfers",))
def cancel_transfer(call: Call, transfer_id: str) -> TransferView:
    return get_container().invitations.cancel(call.user_id, transfer_id)
