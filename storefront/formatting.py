"""Turning minutes and minor units into text, at the edges only (API and templates)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.dates import format_date, format_skeleton, format_time
from babel.numbers import format_currency, format_decimal

from storefront import money
from storefront.rounding import divide_half_up

_CENT = Decimal("0.01")


def hours_text(minutes: int) -> str:
    """Minutes as hours with two decimals: 300 -> "5.00", 90 -> "1.50"."""
    return str((Decimal(minutes) / 60).quantize(_CENT, rounding=ROUND_HALF_UP))


def amount_text(minor: int, currency: str = money.BASE_CURRENCY) -> str:
    """Minor units as a plain amount by the currency's exponent: 7500 -> "75.00",
    12000 "jpy" -> "12000"."""
    return money.amount_text(minor, currency)


def price_per_hour_minor(price_minor: int, minutes: int) -> int:
    """Price of one hour in minor units, rounded half-up to the minor unit (exact integers)."""
    return divide_half_up(price_minor * 60, minutes)


# Babel's format_currency is slow (tens of microseconds) and pages show the same few
# amounts again and again (every plan's price on every page view): each (amount, currency,
# locale) and each number of minutes is formatted once per process.
@lru_cache(maxsize=4096)
def money_display(minor: int, currency: str, locale: str) -> str:
    """Money for people, in the locale's style and by the currency's own exponent:
    7500, "eur" -> "€75.00"; 12000, "jpy" -> "JP¥12,000" (en_IE)."""
    return format_currency(money.to_decimal(minor, currency), currency.upper(), locale=locale)


@lru_cache(maxsize=4096)
def hours_display(minutes: int, locale: str = "en_IE") -> str:
    """Hours for people, the number in the locale's style (the word stays English):
    300 -> "5 hours", 90 -> "1.5 hours" ("1,5 hours" in pt_PT), 60 -> "1 hour"."""
    hours = (Decimal(minutes) / 60).quantize(_CENT, rounding=ROUND_HALF_UP)
    text = format_decimal(hours, format="0.##", locale=locale)
    return f"{text} hour" if hours == 1 else f"{text} hours"


def hours_decimal_display(minutes: int, locale: str = "en_IE") -> str:
    """Hours with two decimals for tables, in the locale's style: 90 -> "1.50" ("1,50")."""
    hours = (Decimal(minutes) / 60).quantize(_CENT, rounding=ROUND_HALF_UP)
    return format_decimal(hours, format="0.00", locale=locale)


# Dates and times for people, in the locale's style; times are shown in UTC, as stored.
# In en_IE: "5 Mar 2026", "5 March 2026", "5 Mar 2026 14:07", "5 Mar 2026 14:07:09",
# "5 March 2026, 14:07" and "5 Mar 14:07:09"; in pt_PT: "05/03/2026", "5 de março de 2026"...

def _time(value: datetime, width: str, locale: str) -> str:
    return format_time(value, width, tzinfo=UTC, locale=locale)


def date_display(value: date, locale: str = "en_IE") -> str:
    """A day, short: "5 Mar 2026"."""
    return format_date(value, "medium", locale=locale)


def date_long_display(value: date, locale: str = "en_IE") -> str:
    """A day, the month in full: "5 March 2026"."""
    return format_date(value, "long", locale=locale)


def datetime_display(value: datetime, locale: str = "en_IE") -> str:
    """A day and a time to the minute: "5 Mar 2026 14:07"."""
    return f"{date_display(value, locale)} {_time(value, 'short', locale)}"


def datetime_seconds_display(value: datetime, locale: str = "en_IE") -> str:
    """A day and a time to the second: "5 Mar 2026 14:07:09"."""
    return f"{date_display(value, locale)} {_time(value, 'medium', locale)}"


def datetime_long_display(value: datetime, locale: str = "en_IE") -> str:
    """A day, the month in full, and a time: "5 March 2026, 14:07"."""
    return f"{date_long_display(value, locale)}, {_time(value, 'short', locale)}"


def day_time_display(value: datetime, locale: str = "en_IE") -> str:
    """A recent moment, without the year: "5 Mar 14:07:09"."""
    return f"{format_skeleton('MMMd', value, locale=locale)} {_time(value, 'medium', locale)}"


def iso_utc(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a Z: 2026-01-31T12:00:00Z."""
    if value is None:
        return None
    return value.replace(microsecond=0).isoformat().replace("+00:00", "Z")
