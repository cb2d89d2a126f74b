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


def _existing(idempotency_key: str) -> LedgerEntry | None:
    return db.session.execute(
        select(LedgerEntry).where(LedgerEntry.idempotency_key == idempotency_key)
    ).scalar_one_or_none()


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


def credit_purchase(purchase: Purchase, paid_at: datetime) -> Lot:
    """Grant the purchase's minutes as a lot; a second call for the same payment returns it."""
    key = f"purchase_credit:{purchase.payment_intent_id}"
    balance = lock_balance(purchase.student_id)
    existing = _existing(key)
    if existing is not None and existing.lot is not None:
        return existing.lot

    expires_at = lot_expiry(paid_at, purchase.validity_days)
    lot = Lot(
        student_id=purchase.student_id,
        purchase_id=purchase.id,
        minutes_granted=purchase.minutes,
        minutes_remaining=purchase.minutes,
        expires_at=expires_at,
    )
    db.session.add(lot)
    db.session.flush()
    db.session.add(
        LedgerEntry(
            student_id=purchase.student_id,
            lot_id=lot.id,
            kind=EntryKind.PURCHASE_CREDIT.value,
            minutes=purchase.minutes,
            reference=purchase.payment_intent_id or f"purchase:{purchase.id}",
            idempotency_key=key,
            note=f"{purchase.plan_name} (purchase {purchase.id})",
        )
    )
    balance.available_minutes += purchase.minutes
    db.session.flush()
    log.info("credited %d minutes to student %d for purchase %d (lot %d)",
             purchase.minutes, purchase.student_id, purchase.id, lot.id)
    return lot
