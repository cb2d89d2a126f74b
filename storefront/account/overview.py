"""A student's hours as they see them: packages, expiries, purchases, sessions.

One service for the dashboard page and the student-balance JSON endpoints.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from storefront.extensions import db
from storefront.models import EntryKind, LedgerEntry, Lot, Purchase, User
from storefront.models.purchase import PAID_STATUSES
from storefront.rounding import divide_half_up

EXPIRY_WARNING = timedelta(days=7)
_CONSUMPTION_KINDS = (EntryKind.CONSUMPTION.value, EntryKind.CONSUMPTION_REVERSAL.value)


@dataclass(frozen=True)
class Package:
    """One paid purchase's lot of minutes."""

    transaction_id: int
    plan_name: str
    minutes_granted: int
    minutes_consumed: int
    minutes_remaining: int
    minutes_on_hold: int
    expires_at: datetime | None
    days_until_expiry: int | None
    is_expired: bool
    value_remaining_minor: int

    @property
    def expiring_soon(self) -> bool:
        return (not self.is_expired and self.minutes_remaining > 0
                and self.days_until_expiry is not None
                and self.days_until_expiry <= EXPIRY_WARNING.days)


@dataclass(frozen=True)
class TutoringSession:
    """A tutoring session that used hours (net of any cancellation)."""

    reference: str
    minutes: int
    at: datetime
    cancelled: bool


@dataclass(frozen=True)
class Overview:
    student: User
    available_minutes: int
    purchased_minutes: int
    consumed_minutes: int
    expired_minutes: int
    refunded_minutes: int
    value_remaining_minor: int
    currency: str
    active: list[Package]
    expired: list[Package]
    used_up: list[Package]
    sessions: list[TutoringSession]

    @property
    def upcoming_expirations(self) -> list[Package]:
        return [p for p in self.active if p.expiring_soon]


def _days_until(expires_at: datetime | None, now: datetime) -> int | None:
    if expires_at is None:
        return None
    return max(0, math.ceil((expires_at - now).total_seconds() / 86400))


def _value(remaining: int, granted: int, price_minor: int) -> int:
    """The paid value of the remaining minutes, rounded half-up to the cent."""
    return divide_half_up(remaining * price_minor, granted)


def student_overview(student: User, now: datetime) -> Overview:
    """Everything the dashboard and the balance API show about one student."""
    entries = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.student_id == student.id).order_by(LedgerEntry.id)
    ).all()
    consumed_by_lot: dict[int, int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    sessions: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        totals[entry.kind] += entry.minutes
        if entry.kind in _CONSUMPTION_KINDS:
            consumed_by_lot[entry.lot_id] -= entry.minutes
            sessions[entry.reference].append(entry)

    active, expired, used_up = [], [], []
    currency = "eur"
    lots = db.session.execute(
        select(Lot, Purchase).join(Purchase, Lot.purchase_id == Purchase.id)
        .where(Lot.student_id == student.id)
        .order_by(Lot.expires_at.is_(None), Lot.expires_at, Lot.id)
    ).all()
    for lot, purchase in lots:
        currency = purchase.currency
        is_expired = lot.expires_at is not None and lot.expires_at <= now
        package = Package(
            transaction_id=purchase.id, plan_name=purchase.plan_name,
            minutes_granted=lot.minutes_granted, minutes_consumed=consumed_by_lot[lot.id],
            minutes_remaining=lot.minutes_remaining, minutes_on_hold=lot.minutes_on_hold,
            expires_at=lot.expires_at,
            days_until_expiry=_days_until(lot.expires_at, now), is_expired=is_expired,
            value_remaining_minor=0 if is_expired else _value(
                lot.minutes_remaining, lot.minutes_granted, purchase.price_minor),
        )
        if is_expired:
            expired.append(package)
        elif lot.minutes_remaining > 0 or lot.minutes_on_hold > 0:
            active.append(package)
        else:
            used_up.append(package)

    session_list = [
        TutoringSession(
            reference=ref, minutes=-sum(e.minutes for e in group), at=group[0].created_at,
            cancelled=any(e.kind == EntryKind.CONSUMPTION_REVERSAL.value for e in group))
        for ref, group in sessions.items()
    ]
    session_list.sort(key=lambda s: s.at, reverse=True)
    return Overview(
        student=student,
        available_minutes=sum(p.minutes_remaining for p in active),
        purchased_minutes=totals[EntryKind.PURCHASE_CREDIT.value],
        consumed_minutes=-(totals[EntryKind.CONSUMPTION.value]
                           + totals[EntryKind.CONSUMPTION_REVERSAL.value]),
        expired_minutes=-totals[EntryKind.EXPIRY.value] + sum(
            p.minutes_remaining for p in expired),
        refunded_minutes=-totals[EntryKind.REFUND_REVERSAL.value],
        value_remaining_minor=sum(p.value_remaining_minor for p in active),
        currency=currency,
        active=active, expired=expired, used_up=used_up, sessions=session_list,
    )


def purchase_history(student: User, *, status: str | None = None,
                     plan_type: str | None = None):
    """The student's purchases, newest first, optionally filtered (a query to paginate)."""
    query = select(Purchase).where(Purchase.student_id == student.id)
    if status:
        query = query.where(Purchase.status == status)
    if plan_type:
        query = query.where(Purchase.plan_type == plan_type)
    return query.order_by(Purchase.created_at.desc(), Purchase.id.desc())


def completed_purchases(student: User) -> list[Purchase]:
    """Paid purchases, refunded ones included (they still have a receipt)."""
    return list(db.session.scalars(
        purchase_history(student).where(
            Purchase.status.in_([status.value for status in PAID_STATUSES]))))


def purchase_sessions(purchase: Purchase) -> list[LedgerEntry]:
    """The session entries (and their cancellations) drawn from one purchase's lot."""
    return list(db.session.scalars(
        select(LedgerEntry).join(Lot, LedgerEntry.lot_id == Lot.id)
        .where(Lot.purchase_id == purchase.id, LedgerEntry.kind.in_(_CONSUMPTION_KINDS))
        .order_by(LedgerEntry.id)))
