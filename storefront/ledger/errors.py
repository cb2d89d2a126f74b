"""Refusals raised by the ledger."""

from __future__ import annotations

from storefront.errors import StorefrontError
from storefront.formatting import hours_text


class InsufficientBalance(StorefrontError):
    """The student lacks the usable minutes; nothing was drawn."""

    error_type = "insufficient_balance"
    status = 409

    def __init__(self, *, required: int, available: int):
        self.required, self.available = required, available
        self.missing = required - available
        super().__init__(
            f"Not enough hours: {hours_text(required)} needed, {hours_text(available)} "
            f"available ({hours_text(self.missing)} missing)."
        )
