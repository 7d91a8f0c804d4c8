import pytest

from chalicelib.domain.money import Money, MoneyError, currency_exponent


@pytest.mark.parametrize("bad", [12.5, 10.0, True, False, "100", None, 1j])
def test_amount_must_be_an_int(bad):
    with pytest.raises(MoneyError):
        Money(bad, "USD")


@pytest.mark.parametrize("bad", ["usd", "XXX", "", None, 840])
def test_currency_must_be_a_known_iso_code(bad):
    with pytest.raises(MoneyError):
        Money(100, bad)


def test_exponents_follow_iso_4217():
    assert currency_exponent("USD") == 2
    assert currency_exponent("JPY") == 0
    assert currency_exponent("KWD") == 3


def test_arithmetic_within_one_currency():
    assert Money(1250, "USD") + Money(750, "USD") == Money(2000, "USD")
    assert Money(1250, "USD") - Money(1300, "USD") == Money(-50, "USD")
    assert -Money(5, "EUR") == Money(-5, "EUR")
    assert Money(1, "USD") < Money(2, "USD") <= Money(2, "USD")
    assert Money(3, "USD") > Money(2, "USD") >= Money(2, "USD")


@pytest.mark.parametrize("op", ["__add__", "__sub__", "__lt__", "__le__", "__gt__", "__ge__"])
def test_no_arithmetic_across_currencies(op):
    with pytest.raises(MoneyError):
        getattr(Money(100, "USD"), op)(Money(100, "EUR"))


def test_no_arithmetic_with_plain_numbers():
    with pytest.raises(MoneyError):
        Money(100, "USD") + 1  # type: ignore[operator]


def test_of_major_and_str():
    assert Money.of_major(1_000_000, "USD") == Money(100_000_000, "USD")
    assert Money.of_major(5, "JPY") == Money(5, "JPY")
    assert str(Money(1250, "USD")) == "12.50 USD"
    assert str(Money(-5, "USD")) == "-0.05 USD"
    assert str(Money(500, "JPY")) == "500 JPY"
    assert str(Money(1, "KWD")) == "0.001 KWD"
    with pytest.raises(MoneyError):
        Money.of_major(1.5, "USD")  # type: ignore[arg-type]


def test_money_is_immutable():
    m = Money(1, "USD")
    with pytest.raises(AttributeError):
        m.amount = 2  # type: ignore[misc]
