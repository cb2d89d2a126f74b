"""What staff look up: students by email or name, lots past expiry."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from storefront.extensions import db
from storefront.models import LedgerEntry, Lot, Purchase, User


def find_students(query: str, limit: int = 50) -> list[User]:
    """Accounts whose email or name contains the query (case-insensitive)."""
    text = query.strip().lower()
    if not text:
        return []
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(db.session.scalars(
        select(User).where(or_(User.email.like(pattern, escape="\\"),
                               func.lower(User.name).like(pattern, escape="\\")))
        .order_by(User.email).limit(limit)))


def lots_past_expiry(now: datetime, grace: timedelta) -> list[tuple[Lot, Purchase, User]]:
    """Lots with minutes left whose expiry (plus grace) has passed."""
    return list(db.session.execute(
        select(Lot, Purchase, User)
        .join(Purchase, Lot.purchase_id == Purchase.id)
        .join(User, Lot.student_id == User.id)
        .where(Lot.minutes_remaining > 0, Lot.expires_at.is_not(None),
               Lot.expires_at <= now - grace)
        .order_by(Lot.expires_at)).tuples())


def student_ledger(student: User) -> list[LedgerEntry]:
    return list(db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.student_id == student.id)
        .order_by(LedgerEntry.id.desc())))


def student_lots(student: User) -> list[tuple[Lot, Purchase]]:
    return list(db.session.execute(
        select(Lot, Purchase).join(Purchase, Lot.purchase_id == Purchase.id)
        .where(Lot.student_id == student.id).order_by(Lot.id.desc())).tuples())
