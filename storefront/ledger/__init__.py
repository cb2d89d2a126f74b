"""The hour ledger: the only writer of ledger entries, lots and balances."""

from storefront.ledger.consumption import (
    Consumption,
    SessionRefConflict,
    cancel_consumption,
    consume_minutes,
    session_owners,
    usable_lots,
)
from storefront.ledger.entries import credit_purchase, lock_balance, lot_expiry, open_balance
from storefront.ledger.errors import InsufficientBalance
from storefront.ledger.expiry import Expiry, expire_lots
from storefront.ledger.lots import (
    LotUnavailable,
    close_dispute,
    extend_expiry,
    hold_for_dispute,
    reverse_refunded_share,
)
from storefront.ledger.rollover import roll_over
from storefront.ledger.statement import student_statement
from storefront.ledger.verify import verify_ledger

__all__ = [
    "Consumption",
    "InsufficientBalance",
    "SessionRefConflict",
    "LotUnavailable",
    "cancel_consumption",
    "close_dispute",
    "extend_expiry",
    "hold_for_dispute",
    "consume_minutes",
    "credit_purchase",
    "Expiry",
    "expire_lots",
    "lock_balance",
    "lot_expiry",
    "open_balance",
    "reverse_refunded_share",
    "roll_over",
    "session_owners",
    "student_statement",
    "usable_lots",
    "verify_ledger",
]
