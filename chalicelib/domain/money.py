"""Money: an integer count of minor units of one ISO 4217 currency (guarantee 1).

No float ever becomes Money, and arithmetic across currencies is refused, so a bug cannot
silently convert or round.
"""
from __future__ import annotations

from dataclasses import dataclass

# ISO 4217 minor-unit exponents of the currencies the product may be configured to support.
# A currency missing here cannot be configured: its exponent would be a guess.
EXPONENTS: dict[str, int] = {
    "AUD": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2, "CZK": 2, "DKK": 2, "EUR": 2,
    "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0,
    "KRW": 0, "KWD": 3, "MXN": 2, "MYR": 2, "NOK": 2, "NZD": 2, "OMR": 3, "PHP": 2, "PLN": 2,
    "SEK": 2, "SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2, "USD": 2, "VND": 0, "ZAR": 2,
}


class MoneyError(ValueError):
    """Raised for an amount or currency that can never be money (a programming error upstream)."""


def currency_exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency]
    except KeyError:
        raise MoneyError(f"unknown currency {currency!r}") from None


@dataclass(frozen=True, slots=True)
class Money:
    """`amount` minor units of `currency` (1250 USD = 12.50 USD; JPY has no minor unit)."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        # bool is a subclass of int: refuse it explicitly, True dollars is a bug.
        if type(self.amount) is not int:
            raise MoneyError(f"amount must be an int of minor units, got {type(self.amount).__name__}")
        if not isinstance(self.currency, str) or self.currency not in EXPONENTS:
            raise MoneyError(f"unknown currency {self.currency!r}")

    @classmethod
    def of_major(cls, major: int, currency: str) -> Money:
        """`major` whole units (an int) as Money: of_major(5, "USD") == Money(500, "USD")."""
        if type(major) is not int:
            raise MoneyError("major amount must be an int")
        return cls(major * 10 ** currency_exponent(currency), currency)

    @property
    def exponent(self) -> int:
        return EXPONENTS[self.currency]

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise MoneyError("can only combine Money with Money")
        if other.currency != self.currency:
            raise MoneyError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    @property
    def is_positive(self) -> bool:
        return self.amount > 0

    def __str__(self) -> str:
        exp = self.exponent
        sign = "-" if self.amount < 0 else ""
        whole, frac = divmod(abs(self.amount), 10 ** exp) if exp else (abs(self.amount), 0)
        return f"{sign}{whole}.{frac:0{exp}d} {self.currency}" if exp else f"{sign}{whole} {self.currency}"
