"""The hour ledger: the only writer of ledger entries, lots and balances."""

from storefront.ledger.entries import credit_purchase, lock_balance, open_balance
from storefront.ledger.statement import student_statement
from storefront.ledger.verify import verify_ledger

__all__ = ["credit_purchase", "lock_balance", "open_balance", "student_statement", "verify_ledger"]
