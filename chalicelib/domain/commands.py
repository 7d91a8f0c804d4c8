"""What a use case is asked to do: one frozen value per request, built by the route from its
validated body (cosmicpython's commands). The services take these, never the body's dict.

`as_request()` is the request as the idempotency hash has always read it (the body as sent,
nulls left out, `invite: false` dropped): stored records are compared with it across deploys,
so it must stay byte-for-byte what the routes used to pass (tests/unit/test_commands.py pins
it). `of()` reads that same JSON shape back (tests, benchmarks, the simulation).

Amounts stay an int and a currency code, not `Money`: an unconfigured currency is the service's
400, and `Money` refuses unknown codes as a programming error.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Channel = Literal["email", "phone"]


@dataclass(frozen=True, slots=True)
class Address:
    """An e-mail address or a phone number as the body gave it (the service normalizes it)."""

    channel: Channel
    value: str

    def as_request(self) -> dict[str, Any]:
        return {self.channel: self.value}

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Address:
        return cls("email", body["email"]) if "email" in body else cls("phone", body["phone"])


def _without_none(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


@dataclass(frozen=True, slots=True)
class SendTransfer:
    """POST /transfers: to a wallet (`to_wallet_id`) or a person (`to_address`, with `invite`
    to hold the money for an address nobody has verified); `amount` and `currency`, or an
    exchange quote (`quote_id`)."""

    from_wallet_id: str
    to_wallet_id: str | None = None
    to_address: Address | None = None
    invite: bool = False
    amount: int | None = None
    currency: str | None = None
    quote_id: str | None = None
    memo: str | None = None

    def as_request(self) -> dict[str, Any]:
        if self.to_address is not None:
            to = self.to_address.as_request() | ({"invite": True} if self.invite else {})
        else:
            to = {"wallet_id": self.to_wallet_id}
        return {"from_wallet_id": self.from_wallet_id, "to": to,
                **_without_none(amount=self.amount, currency=self.currency, quote_id=self.quote_id, memo=self.memo)}

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> SendTransfer:
        to = body["to"]
        return cls(from_wallet_id=body["from_wallet_id"], to_wallet_id=to.get("wallet_id"),
                   to_address=None if "wallet_id" in to else Address.of(to), invite=bool(to.get("invite")),
                   amount=body.get("amount"), currency=body.get("currency"), quote_id=body.get("quote_id"),
                   memo=body.get("memo"))


@dataclass(frozen=True, slots=True)
class RequestPayment:
    """POST /payment-requests: ask a verified address for money."""

    payer: Address
    amount: int
    currency: str
    memo: str | None = None
    expires_in: int | None = None

    def as_request(self) -> dict[str, Any]:
        return {"payer": self.payer.as_request(), "amount": self.amount, "currency": self.currency,
                **_without_none(memo=self.memo, expires_in=self.expires_in)}

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> RequestPayment:
        return cls(Address.of(body["payer"]), body["amount"], body["currency"], body.get("memo"),
                   body.get("expires_in"))


@dataclass(frozen=True, slots=True)
class AskQuote:
    """POST /fx/quotes: a price for selling `sell_amount` or for buying `buy_amount` (one)."""

    sell_currency: str
    buy_currency: str
    sell_amount: int | None = None
    buy_amount: int | None = None


@dataclass(frozen=True, slots=True)
class ExchangeCurrency:
    """POST /fx/exchanges: execute a quote from one of the caller's wallets to another
    (`to_wallet_id`; default: the caller's default wallet of the buy currency)."""

    quote_id: str
    from_wallet_id: str
    to_wallet_id: str | None = None

    def as_request(self) -> dict[str, Any]:
        return {"quote_id": self.quote_id, "from_wallet_id": self.from_wallet_id,
                **_without_none(to_wallet_id=self.to_wallet_id)}

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> ExchangeCurrency:
        return cls(body["quote_id"], body["from_wallet_id"], body.get("to_wallet_id"))


@dataclass(frozen=True, slots=True)
class OpenAllowance:
    """POST /offline/allowances: hold `amount` of a wallet for a device to spend offline (the
    otp is the step-up's, not part of the request)."""

    device_id: str
    wallet_id: str
    amount: int
    expires_in: int | None = None

    def as_request(self) -> dict[str, Any]:
        return {"device_id": self.device_id, "wallet_id": self.wallet_id, "amount": self.amount,
                **_without_none(expires_in=self.expires_in)}

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> OpenAllowance:
        return cls(body["device_id"], body["wallet_id"], body["amount"], body.get("expires_in"))


@dataclass(frozen=True, slots=True)
class RedeemVouchers:
    """POST /offline/redeem: an allowance's certificate and vouchers signed under it (a payment
    code is unpacked into these by the route, so both forms are the same request)."""

    certificate: str
    vouchers: tuple[str, ...]

    def as_request(self) -> dict[str, Any]:
        return {"certificate": self.certificate, "vouchers": list(self.vouchers)}

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> RedeemVouchers:
        return cls(body["certificate"], tuple(body["vouchers"]))


@dataclass(frozen=True, slots=True)
class AddMoney:
    """POST /topups: charge one of the caller's payment methods into one of their wallets."""

    wallet_id: str
    amount: int
    payment_method_id: str

    def as_request(self) -> dict[str, Any]:
        return {"wallet_id": self.wallet_id, "amount": self.amount, "payment_method_id": self.payment_method_id}

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> AddMoney:
        return cls(body["wallet_id"], body["amount"], body["payment_method_id"])


@dataclass(frozen=True, slots=True)
class WithdrawMoney:
    """POST /withdrawals: pay out of a wallet to the caller's bank (the otp is the step-up's,
    not part of the request: a retry may carry a fresh code)."""

    wallet_id: str
    amount: int

    def as_request(self) -> dict[str, Any]:
        return {"wallet_id": self.wallet_id, "amount": self.amount}

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> WithdrawMoney:
        return cls(body["wallet_id"], body["amount"])


@dataclass(frozen=True, slots=True)
class SocialSignIn:
    """Sign in with a provider: what its verified ID token says, read once (`of_claims`)."""

    provider: str
    subject: str
    verified_email: str | None = None  # only an address the provider says it verified
    given_name: str | None = None
    family_name: str | None = None

    @classmethod
    def of_claims(cls, provider: str, claims: Mapping[str, Any]) -> SocialSignIn:
        """The ID token's claims (the JSON edge) as the values the sign-in uses."""
        email = claims.get("email") if claims.get("email_verified") in (True, "true") else None

        def text(name: str) -> str | None:
            value = claims.get(name)
            return value if isinstance(value, str) else None

        return cls(provider, str(claims["sub"]), email if isinstance(email, str) else None,
                   text("given_name"), text("family_name"))
