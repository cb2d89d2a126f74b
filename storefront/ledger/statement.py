"""Reading a student's ledger: lots and entries, as plain data."""

from __future__ import annotations

from sqlalchemy import select

from storefront.extensions import db
from storefront.formatting import iso_utc
from storefront.models import Balance, LedgerEntry, Lot, User


def student_statement(student: User) -> dict:
    """The student's available (and pending) minutes, lots and entries (oldest first)."""
    balance = db.session.get(Balance, student.id)
    lots = db.session.scalars(select(Lot).where(Lot.student_id == student.id).order_by(Lot.id))
    entries = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.student_id == student.id).order_by(LedgerEntry.id)
    )
    return {
        "email": student.email,
        "name": student.name,
        "available_minutes": balance.available_minutes if balance else 0,
        "pending_minutes": balance.pending_minutes if balance else 0,
        "lots": [
            {
                "lot_id": lot.id,
                "purchase_id": lot.purchase_id,
                "minutes_granted": lot.minutes_granted,
                "minutes_remaining": lot.minutes_remaining,
                "minutes_pending": lot.minutes_pending,
                "expires_at": iso_utc(lot.expires_at),
            }
            for lot in lots
        ],
        "entries": [
            {
                "id": entry.id,
                "kind": entry.kind,
                "minutes": entry.minutes,
                "pending_minutes": entry.pending_minutes,
                "lot_id": entry.lot_id,
                "reference": entry.reference,
                "created_at": iso_utc(entry.created_at),
            }
            for entry in entries
        ],
    }
