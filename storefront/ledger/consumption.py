"""Drawing minutes for tutoring sessions and expiring lots past their date."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from storefront.errors import NotFound, StorefrontError
from storefront.extensions import db
from storefront.ledger.entries import lock_balance
from storefront.ledger.errors import InsufficientBalance
from storefront.ledger.lots import return_minutes
from storefront.models import EntryKind, LedgerEntry, Lot

log = logging.getLogger(__name__)


def usable_lots(student_id: int, now: datetime) -> list[Lot]:
    """Lots with minutes left and not past their expiry, soonest-expiring first."""
    return list(db.session.scalars(
        select(Lot)
        .where(
            Lot.student_id == student_id,
            Lot.minutes_remaining > 0,
            or_(Lot.expires_at.is_(None), Lot.expires_at > now),
        )
        .order_by(Lot.expires_at.is_(None), Lot.expires_at, Lot.id)
        .execution_options(populate_existing=True)
    ))


@dataclass(frozen=True)
class Consumption:
    entries: list[LedgerEntry]
    repeated: bool  # the session_ref was recorded before; nothing new was drawn


class SessionRefConflict(StorefrontError):
    error_type = "session_ref_conflict"
    status = 409


def _session_entries(student_id: int, session_ref: str, kind: EntryKind) -> list[LedgerEntry]:
    return list(db.session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.student_id == student_id,
            LedgerEntry.kind == kind.value,
            LedgerEntry.reference == session_ref,
        ).order_by(LedgerEntry.id)
    ))


def session_owners(session_ref: str) -> set[int]:
    """The students who have a session recorded under this reference."""
    return set(db.session.scalars(select(LedgerEntry.student_id).where(
        LedgerEntry.kind == EntryKind.CONSUMPTION.value, LedgerEntry.reference == session_ref)))


def consume_minutes(
    *, student_id: int, minutes: int, session_ref: str, now: datetime
) -> Consumption:
    """Draw minutes for one session, soonest-expiring lot first, possibly across lots.

    Never overdraws: without enough usable minutes nothing is drawn and InsufficientBalance
    is raised. Session references are per student; a repeated one returns the entries
    written the first time, and a cancelled one cannot be recorded again.
    """
    if minutes <= 0:
        raise ValueError("minutes must be positive")
    balance = lock_balance(student_id)
    existing = _session_entries(student_id, session_ref, EntryKind.CONSUMPTION)
    if existing:
        if _session_entries(student_id, session_ref, EntryKind.CONSUMPTION_REVERSAL):
            raise SessionRefConflict(
                f"Session {session_ref!r} was cancelled; record it under a new reference.")
        if -sum(e.minutes for e in existing) != minutes:
            raise SessionRefConflict(
                f"Session {session_ref!r} was already recorded with other details.")
        return Consumption(existing, repeated=True)

    lots = usable_lots(student_id, now)
    available = sum(lot.minutes_remaining for lot in lots)
    if available < minutes:
        raise InsufficientBalance(required=minutes, available=available)

    entries, left = [], minutes
    for lot in lots:
        if left == 0:
            break
        take = min(left, lot.minutes_remaining)
        lot.minutes_remaining -= take
        left -= take
        entry = LedgerEntry(
            student_id=student_id, lot_id=lot.id, kind=EntryKind.CONSUMPTION.value,
            minutes=-take, reference=session_ref,
            idempotency_key=f"consumption:{student_id}:{session_ref}:lot:{lot.id}",
        )
        db.session.add(entry)
        entries.append(entry)
    balance.available_minutes -= minutes
    db.session.flush()
    log.info("student %d: consumed %d minutes for %s", student_id, minutes, session_ref)
    return Consumption(entries, repeated=False)


def cancel_consumption(*, student_id: int, session_ref: str,
                       now: datetime) -> list[LedgerEntry]:
    """Return a session's minutes to the lots they came from, as far as each lot may have
    them back: nothing to an expired lot or one lost in a dispute; a refund's unpaid share
    is taken first; during an open dispute they go on hold. A repeated cancellation returns
    the entries written the first time."""
    balance = lock_balance(student_id)
    consumed = _session_entries(student_id, session_ref, EntryKind.CONSUMPTION)
    if not consumed:
        raise NotFound(f"No session {session_ref!r} was recorded for this student.")
    done = list(db.session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.student_id == student_id,
            LedgerEntry.idempotency_key.like(f"%:cancel:{student_id}:{session_ref}:%"),
        ).order_by(LedgerEntry.id)))
    if done:
        return done
    written = []
    for entry in consumed:
        lot = db.session.get(Lot, entry.lot_id, populate_existing=True)
        if lot.expires_at is not None and lot.expires_at <= now:
            continue  # not revived: the lot has expired
        if lot.purchase.dispute_status == "lost":
            continue  # voided with the lost dispute
        written += return_minutes(lot, balance, -entry.minutes,
                                  f"cancel:{student_id}:{session_ref}:lot:{lot.id}",
                                  session_ref)
    db.session.flush()
    log.info("session %s of student %d cancelled: %d minutes usable again", session_ref,
             student_id, sum(e.minutes for e in written))
    return written


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
