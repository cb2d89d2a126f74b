"""Currencies the shop sells in: each one's exponent (digits after the decimal point, as
Stripe counts them), Stripe's minimum charge and our maximum, and the exact conversion
between what staff type ("82.50", "12000") and integer minor units."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Currency:
    """One currency: its lower-case ISO code, exponent and allowed range in minor units."""

    code: str
    exponent: int
    minimum_minor: int  # Stripe's minimum charge amount
    maximum_minor: int  # ours: a larger price is a typing mistake

    @property
    def upper(self) -> str:
        return self.code.upper()


# Stripe's list of zero-decimal currencies gives JPY no minor unit; the others have cents.
# Minimums: Stripe's "Minimum and maximum charge amounts" (0.50 EUR/USD/BRL/CHF, 0.30 GBP,
# 50 JPY). Maximums: 10,000 in the units of each currency, a million for the yen.
CURRENCIES: dict[str, Currency] = {
    currency.code: currency for currency in (
        Currency("eur", 2, 50, 1_000_000),
        Currency("usd", 2, 50, 1_000_000),
        Currency("gbp", 2, 30, 1_000_000),
        Currency("brl", 2, 50, 1_000_000),
        Currency("chf", 2, 50, 1_000_000),
        Currency("jpy", 0, 50, 1_000_000),
    )
}
BASE_CURRENCY = "eur"  # every plan has a price in it; the API's price_eur
EXTRA_CURRENCIES = tuple(code for code in CURRENCIES if code != BASE_CURRENCY)
_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


class AmountError(ValueError):
    """A typed amount that is no valid price in its currency; the text is for people."""


def currency_of(code: str) -> Currency:
    """The currency with this ISO code (any case); KeyError for one we do not sell in."""
    return CURRENCIES[code.lower()]


def is_supported(code: object) -> bool:
    """Whether `code` is the ISO code (any case) of a currency we sell in."""
    return isinstance(code, str) and code.lower() in CURRENCIES


def to_decimal(minor: int, code: str) -> Decimal:
    """Minor units as an exact amount: 7500 "eur" -> 75.00, 12000 "jpy" -> 12000."""
    exponent = currency_of(code).exponent
    return Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def amount_text(minor: int, code: str) -> str:
    """Minor units as a plain decimal string by the currency's exponent: "75.00", "12000"."""
    return str(to_decimal(minor, code))


def bounds_text(code: str) -> str:
    """The allowed range, for messages: "from 0.50 to 10000.00"."""
    currency = currency_of(code)
    return (f"from {amount_text(currency.minimum_minor, code)} to "
            f"{amount_text(currency.maximum_minor, code)}")


def to_minor(amount: Decimal | str, code: str) -> int:
    """An exact amount as integer minor units; AmountError if it has more decimals than
    the currency has (12.5 yen, 1.005 euros) or is not a plain non-negative number."""
    currency = currency_of(code)
    if isinstance(amount, str):
        text = amount.strip()
        if not _AMOUNT.fullmatch(text):
            raise AmountError("Enter an amount such as " + (
                "12000." if currency.exponent == 0 else "82.50."))
        amount = Decimal(text)
    if not amount.is_finite() or amount < 0:
        raise AmountError("Enter an amount above 0.")
    minor = amount.scaleb(currency.exponent)
    if minor != minor.to_integral_value():
        if currency.exponent == 0:
            raise AmountError(f"{currency.upper} has no decimals: enter a whole amount.")
        raise AmountError(f"{currency.upper} has at most {currency.exponent} decimals.")
    return int(minor)


def parse_price(amount: Decimal | str, code: str) -> int:
    """A staff-entered price in minor units, within Stripe's minimum and our maximum for
    the currency; AmountError with a message for people otherwise."""
    minor = to_minor(amount, code)
    currency = currency_of(code)
    if not currency.minimum_minor <= minor <= currency.maximum_minor:
        raise AmountError(f"A price in {currency.upper} must be {bounds_text(code)}.")
    return minor


def check_constraint_sql(amount_column: str, currency_column: str) -> str:
    """The database's own check of every currency's range (for the plan_prices table)."""
    return " OR ".join(
        f"({currency_column} = '{c.code}' AND {amount_column} >= {c.minimum_minor}"
        f" AND {amount_column} <= {c.maximum_minor})" for c in CURRENCIES.values())
