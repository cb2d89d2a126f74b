"""Writing the ledger: every change is an entry with an idempotency key, and the lot and
balance caches move with it in the same transaction, under the balance row's lock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from storefront.extensions import db
from storefront.models import Balance, EntryKind, LedgerEntry, Lot, Purchase, User

log = logging.getLogger(__name__)
# No lot expires later than this: far beyond any plan's validity, and far enough from the
# calendar's end that adding an extension to it cannot overflow.
LATEST_EXPIRY = datetime(9000, 1, 1, tzinfo=UTC)


def open_balance(student: User) -> Balance:
    """Create the empty balance row of a new student (flushes, so the row exists to lock)."""
    balance = Balance(student_id=student.id, available_minutes=0)
    db.session.add(balance)
    db.session.flush()
    return balance


def lock_balance(student_id: int) -> Balance:
    """The student's balance row, locked FOR UPDATE until the transaction ends.

    On SQLite the whole database is locked by the writing transaction instead.
    """
    balance = db.session.execute(
        select(Balance).where(Balance.student_id == student_id).with_for_update()
    ).scalar_one_or_none()
    if balance is None:
        balance = Balance(student_id=student_id, available_minutes=0)
        db.session.add(balance)
        db.session.flush()
    return balance


def lot_expiry(paid_at: datetime, validity_days: int | None) -> datetime | None:
    """When hours paid at `paid_at` expire: never without a validity, and never later than
    LATEST_EXPIRY, whatever the purchase's snapshot of the plan says (it never raises)."""
    if not validity_days:
        return None
    if validity_days < 0:
        return paid_at
    try:
        return min(paid_at + timedelta(days=validity_days), LATEST_EXPIRY)
    except OverflowError:
        return LATEST_EXPIRY


def credit_key(purchase: Purchase) -> str:
    """The idempotency key of the purchase's credit: one per payment, or per invoice for a
    subscription's month (whose PaymentIntent Stripe may not name)."""
    if purchase.stripe_invoice_id:
        return f"purchase_credit:invoice:{purchase.stripe_invoice_id}"
    return f"purchase_credit:{purchase.payment_intent_id}"


def credit_entry_values(purchase: Purchase, key: str) -> dict[str, object]:
    """The columns of the purchase's credit entry (its lot aside)."""
    return {
        "student_id": purchase.student_id,
        "kind": EntryKind.PURCHASE_CREDIT.value,
        "minutes": purchase.minutes,
        "reference": (purchase.payment_intent_id
                      or (purchase.stripe_invoice_id and f"invoice:{purchase.stripe_invoice_id}")
                      or f"purchase:{purchase.id}"),
        "idempotency_key": key,
        "note": f"{purchase.plan_name} (purchase {purchase.id})",
    }


def _lock_balance_for_credit(student_id: int, key: str) -> tuple[Balance, int | None]:
    """lock_balance, and the lot already credited under `key` if any, in one statement.

    Pending changes are not flushed first: the caller's changes to the purchase go out in
    the same flush as the credit.
    """
    credited = select(LedgerEntry.lot_id).where(
        LedgerEntry.idempotency_key == key).scalar_subquery()
    with db.session.no_autoflush:
        row = db.session.execute(
            select(Balance, credited).where(Balance.student_id == student_id)
            .with_for_update(of=Balance).execution_options(populate_existing=True)
        ).one_or_none()
    if row is not None:
        return row[0], row[1]
    balance = lock_balance(student_id)
    return balance, db.session.scalar(
        select(LedgerEntry.lot_id).where(LedgerEntry.idempotency_key == key))


def credit_purchase(purchase: Purchase, paid_at: datetime,
                    expires_at: datetime | None = None) -> Lot:
    """Grant the purchase's minutes as a lot; a second call for the same payment returns it.

    The lot expires `expires_at` when given (a subscription's period end plus grace), else
    the package's validity after `paid_at`; the purchase keeps a copy of that date. One
    flush writes the lot, its entry, the balance and the caller's changes to the purchase.
    """
    key = credit_key(purchase)
    balance, credited_lot_id = _lock_balance_for_credit(purchase.student_id, key)
    if credited_lot_id is not None:
        return db.session.get(Lot, credited_lot_id)

    if expires_at is not None:
        expires_at = min(expires_at, LATEST_EXPIRY)
    else:
        expires_at = lot_expiry(paid_at, purchase.validity_days)
    lot = Lot(
        student_id=purchase.student_id,
        purchase_id=purchase.id,
        minutes_granted=purchase.minutes,
        minutes_remaining=purchase.minutes,
        expires_at=expires_at,
    )
    db.session.add(lot)
    db.session.add(LedgerEntry(lot=lot, **credit_entry_values(purchase, key)))
    balance.available_minutes += purchase.minutes
    purchase.expires_at = expires_at  # the ledger dates the hours
    db.session.flush()
    log.info("credited %d minutes to student %d for purchase %d (lot %d)",
             purchase.minutes, purchase.student_id, purchase.id, lot.id)
    return lot
