"""A student's hours as they see them: packages, expiries, purchases, sessions.

One service for the dashboard page and the student-balance JSON endpoints.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import selectinload

from storefront.extensions import db
from storefront.models import Balance, EntryKind, LedgerEntry, Lot, Purchase, User
from storefront.models.ledger import NOT_SESSION_MOVEMENT, OPEN_LOT
from storefront.models.purchase import PAID_STATUSES
from storefront.rounding import divide_half_up

EXPIRY_WARNING = timedelta(days=7)
# How many expired packages the dashboard and the balance summary list (the latest ones).
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
    value_remaining_minor: int  # in `currency`, the purchase's own
    currency: str = "eur"

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
    pending_minutes: int  # bank payments still clearing: shown, never available
    purchased_minutes: int
    consumed_minutes: int
    expired_minutes: int
    refunded_minutes: int
    # The paid value of the available hours per currency (never added across currencies).
    values_remaining: dict[str, int]
    active: list[Package]
    expired: list[Package]  # all, soonest expiry first; or the latest few, newest first
    sessions: list[TutoringSession]  # the latest few, when asked for

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


def _values_by_currency(packages: list[Package]) -> dict[str, int]:
    values: dict[str, int] = {}
    for package in packages:
        values[package.currency] = values.get(package.currency, 0) + package.value_remaining_minor
    return values


def _package(lot: Lot, purchase: Purchase, consumed: int, now: datetime) -> Package:
    is_expired = lot.expires_at is not None and lot.expires_at <= now
    return Package(
        transaction_id=purchase.id, plan_name=purchase.plan_name,
        minutes_granted=lot.minutes_granted, minutes_consumed=consumed,
        minutes_remaining=lot.minutes_remaining, minutes_on_hold=lot.minutes_on_hold,
        expires_at=lot.expires_at,
        days_until_expiry=_days_until(lot.expires_at, now), is_expired=is_expired,
        value_remaining_minor=0 if is_expired else _value(
            lot.minutes_remaining, lot.minutes_granted, purchase.price_minor),
        currency=purchase.currency,
    )


def _not_consumption():
    # The partial index ix_ledger_entries_student_movements's own condition, so the planner
    # uses it: a few rows per lot, however many sessions the student had.
    return text(NOT_SESSION_MOVEMENT)


def _movement_totals(student_id: int) -> dict[str, int]:
    """The student's entries summed by kind, sessions left out (see _consumed_minutes)."""
    return {kind: int(total) for kind, total in db.session.execute(
        select(LedgerEntry.kind, func.sum(LedgerEntry.minutes))
        .where(LedgerEntry.student_id == student_id, _not_consumption())
        .group_by(LedgerEntry.kind)).all()}


def _consumed_by_lot(student_id: int, lots: list[Lot]) -> dict[int, int]:
    """Net session minutes drawn from each lot, read without reading the sessions.

    A lot's entries sum to its remaining minutes (checked by `ledger verify`), so what the
    sessions took is the sum of the lot's other entries minus what remains.
    """
    if not lots:
        return {}
    others = dict(db.session.execute(
        select(LedgerEntry.lot_id, func.sum(LedgerEntry.minutes))
        .where(LedgerEntry.student_id == student_id, _not_consumption(),
               LedgerEntry.lot_id.in_([lot.id for lot in lots]))
        .group_by(LedgerEntry.lot_id)).all())
    return {lot.id: int(others.get(lot.id) or 0) - lot.minutes_remaining for lot in lots}


def _lots(query) -> list[tuple[Lot, Purchase]]:
    # The purchases by primary key in a second query: joined, PostgreSQL may hash-join a
    # whole table for a student's two open lots.
    lots = list(db.session.scalars(query.options(selectinload(Lot.purchase))))
    return [(lot, lot.purchase) for lot in lots]


def open_lots(student_id: int) -> list[tuple[Lot, Purchase]]:
    """Lots with minutes left or on hold (expired ones not yet expired by the run included),
    soonest-expiring first."""
    return _lots(select(Lot).where(Lot.student_id == student_id, text(OPEN_LOT))
        .order_by(Lot.expires_at.is_(None), Lot.expires_at, Lot.id))


def _expired_lots(student_id: int, now: datetime,
                  limit: int | None) -> list[tuple[Lot, Purchase]]:
    """Expired lots: every one, soonest expiry first; or the latest `limit`, newest first."""
    query = select(Lot).where(Lot.student_id == student_id, Lot.expires_at <= now)
    if limit is None:
        return _lots(query.order_by(Lot.expires_at, Lot.id))
    return _lots(query.order_by(Lot.expires_at.desc(), Lot.id.desc()).limit(limit))


def latest_sessions(student_id: int, limit: int) -> list[TutoringSession]:
    """The student's latest tutoring sessions, newest first, each net of its cancellation."""
    recent = db.session.scalars(
        select(LedgerEntry.session_ref)
        .where(LedgerEntry.student_id == student_id,
               LedgerEntry.kind == EntryKind.CONSUMPTION.value)
        .order_by(LedgerEntry.id.desc()).limit(limit * 2)).all()
    refs = list(dict.fromkeys(recent))[:limit]
    if not refs:
        return []
    groups: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in db.session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.student_id == student_id, LedgerEntry.session_ref.in_(refs),
                   LedgerEntry.kind.in_(_CONSUMPTION_KINDS))
            .order_by(LedgerEntry.id)):
        groups[entry.session_ref].append(entry)
    return [TutoringSession(
        reference=ref, minutes=-sum(e.minutes for e in groups[ref]), at=groups[ref][0].created_at,
        cancelled=any(e.kind == EntryKind.CONSUMPTION_REVERSAL.value for e in groups[ref]))
        for ref in refs if groups[ref]]


def student_overview(student: User, now: datetime, *, expired_limit: int | None = None,
                     sessions_limit: int = 0) -> Overview:
    """What the dashboard and the balance API show about one student.

    Reads the balance row, the open lots, the latest expired lots and sessions, and a few
    entries per lot: never the student's whole ledger.
    """
    opened = open_lots(student.id)
    latest_expired = _expired_lots(student.id, now, expired_limit)
    shown = {lot.id: (lot, purchase) for lot, purchase in (*opened, *latest_expired)}
    consumed = _consumed_by_lot(student.id, [lot for lot, _ in shown.values()])
    active = []
    for lot, purchase in opened:
        if not (lot.expires_at is not None and lot.expires_at <= now):
            active.append(_package(lot, purchase, consumed[lot.id], now))
    expired = sorted((_package(lot, purchase, consumed[lot.id], now)
                      for lot, purchase in shown.values()
                      if lot.expires_at is not None and lot.expires_at <= now),
                     key=lambda p: (p.expires_at, p.transaction_id),
                     reverse=expired_limit is not None)
    if expired_limit is not None:
        del expired[expired_limit:]

    totals = _movement_totals(student.id)
    balance = db.session.get(Balance, student.id)
    ledger_sum = balance.available_minutes if balance else 0
    return Overview(
        student=student,
        available_minutes=sum(p.minutes_remaining for p in active),
        pending_minutes=balance.pending_minutes if balance else 0,
        purchased_minutes=totals.get(EntryKind.PURCHASE_CREDIT.value, 0),
        # Every entry sums to the balance row, so the sessions' share is the rest.
        consumed_minutes=sum(totals.values()) - ledger_sum,
        expired_minutes=-totals.get(EntryKind.EXPIRY.value, 0) + sum(
            lot.minutes_remaining for lot, _ in opened
            if lot.expires_at is not None and lot.expires_at <= now),
        refunded_minutes=-totals.get(EntryKind.REFUND_REVERSAL.value, 0),
        values_remaining=_values_by_currency(active),
        active=active, expired=expired,
        sessions=latest_sessions(student.id, sessions_limit) if sessions_limit else [],
    )


def all_packages(student: User, now: datetime) -> list[Package]:
    """Every lot of the student as a package (the purchases endpoint lists them all)."""
    lots = _lots(select(Lot).where(Lot.student_id == student.id))
    consumed = _consumed_by_lot(student.id, [lot for lot, _ in lots])
    return [_package(lot, purchase, consumed[lot.id], now) for lot, purchase in lots]


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


def purchases_sessions(purchase_ids: list[int]) -> dict[int, list[LedgerEntry]]:
    """The session entries (and their cancellations) drawn from each purchase's lot."""
    sessions: dict[int, list[LedgerEntry]] = defaultdict(list)
    if not purchase_ids:
        return sessions
    for purchase_id, entry in db.session.execute(
            select(Lot.purchase_id, LedgerEntry).join(Lot, LedgerEntry.lot_id == Lot.id)
            .where(Lot.purchase_id.in_(purchase_ids),
                   LedgerEntry.kind.in_(_CONSUMPTION_KINDS))
            .order_by(LedgerEntry.id)).tuples():
        sessions[purchase_id].append(entry)
    return sessions
