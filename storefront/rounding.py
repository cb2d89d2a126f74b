"""Exact integer arithmetic shared by money and minutes."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def divide_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-up to a whole number (non-negative operands)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    return (2 * numerator + denominator) // (2 * denominator)


def hours_to_minutes(hours: Decimal) -> int:
    """Hours (a Decimal such as 1.25) as whole minutes, rounded half-up."""
    return int((hours * 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))
