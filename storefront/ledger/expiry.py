"""Expiring the minutes of lots past their date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from storefront.extensions import db
from storefront.ledger.entries import lock_balance
from storefront.models import EntryKind, LedgerEntry, Lot


@dataclass(frozen=True)
class Expiry:
    lot_id: int
    student_id: int
    minutes: int


def expire_lots(*, now: datetime, grace: timedelta = timedelta(0),
                dry_run: bool = False) -> list[Expiry]:
    """Expire the remaining minutes of every lot past expiry + grace, one entry per lot.

    Running it again finds nothing left to expire.
    """
    due = list(db.session.scalars(
        select(Lot).where(
            Lot.minutes_remaining > 0,
            Lot.expires_at.is_not(None),
            Lot.expires_at <= now - grace,
        ).order_by(Lot.student_id, Lot.id)
    ))
    expired = []
    for lot in due:
        if dry_run:
            expired.append(Expiry(lot.id, lot.student_id, lot.minutes_remaining))
            continue
        balance = lock_balance(lot.student_id)
        db.session.refresh(lot)  # re-read under the lock
        if lot.minutes_remaining == 0:
            continue
        minutes = lot.minutes_remaining
        db.session.add(LedgerEntry(
            student_id=lot.student_id, lot_id=lot.id, kind=EntryKind.EXPIRY.value,
            minutes=-minutes, reference=f"lot:{lot.id}",
            idempotency_key=f"expiry:lot:{lot.id}",
        ))
        lot.minutes_remaining = 0
        balance.available_minutes -= minutes
        expired.append(Expiry(lot.id, lot.student_id, minutes))
    db.session.flush()
    return expired
