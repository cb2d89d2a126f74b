"""Exact integer arithmetic shared by money and minutes."""

from __future__ import annotations


def divide_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-up to a whole number (non-negative operands)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    return (2 * numerator + denominator) // (2 * denominator)
