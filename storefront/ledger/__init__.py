"""The hour ledger: the only writer of ledger entries, lots and balances."""

from storefront.ledger.consumption import (
    Consumption,
    SessionRefConflict,
    cancel_consumption,
    consume_minutes,
    expire_lots,
    session_owners,
    usable_lots,
)
from storefront.ledger.entries import credit_purchase, lock_balance, open_balance
from storefront.ledger.errors import InsufficientBalance
from storefront.ledger.lots import (
    LotUnavailable,
    apply_refunded_total,
    close_dispute,
    extend_expiry,
    hold_for_dispute,
)
from storefront.ledger.statement import student_statement
from storefront.ledger.verify import verify_ledger

__all__ = [
    "Consumption",
    "InsufficientBalance",
    "SessionRefConflict",
    "LotUnavailable",
    "apply_refunded_total",
    "cancel_consumption",
    "close_dispute",
    "extend_expiry",
    "hold_for_dispute",
    "consume_minutes",
    "credit_purchase",
    "expire_lots",
    "lock_balance",
    "open_balance",
    "session_owners",
    "student_statement",
    "usable_lots",
    "verify_ledger",
]
