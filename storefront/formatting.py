"""Turning minutes and minor units into text, at the edges only (API and templates)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.numbers import format_currency

from storefront.rounding import divide_half_up

_CENT = Decimal("0.01")


def hours_text(minutes: int) -> str:
    """Minutes as hours with two decimals: 300 -> "5.00", 90 -> "1.50"."""
    return str((Decimal(minutes) / 60).quantize(_CENT, rounding=ROUND_HALF_UP))


def amount_text(minor: int) -> str:
    """Minor units as a plain two-decimal amount: 7500 -> "75.00"."""
    return str((Decimal(minor) / 100).quantize(_CENT, rounding=ROUND_HALF_UP))


def price_per_hour_minor(price_minor: int, minutes: int) -> int:
    """Price of one hour in minor units, rounded half-up to the cent (exact integers)."""
    return divide_half_up(price_minor * 60, minutes)


# Babel's format_currency is slow (tens of microseconds) and pages show the same few
# amounts again and again (every plan's price on every page view): each (amount, currency,
# locale) and each number of minutes is formatted once per process.
@lru_cache(maxsize=4096)
def money_display(minor: int, currency: str, locale: str) -> str:
    """Money for people, in the locale's style: 7500, "eur" -> "€75.00"."""
    return format_currency(Decimal(minor) / 100, currency.upper(), locale=locale)


@lru_cache(maxsize=4096)
def hours_display(minutes: int) -> str:
    """Hours for people: 300 -> "5 hours", 90 -> "1.5 hours", 60 -> "1 hour"."""
    hours = (Decimal(minutes) / 60).quantize(_CENT, rounding=ROUND_HALF_UP).normalize()
    text = format(hours, "f")
    return f"{text} hour" if hours == 1 else f"{text} hours"


def iso_utc(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a Z: 2026-01-31T12:00:00Z."""
    if value is None:
        return None
    return value.replace(microsecond=0).isoformat().replace("+00:00", "Z")
