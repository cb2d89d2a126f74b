"""Drawing minutes for tutoring sessions, and cancelling them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select

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


def _session_entries(student_id: int, session_ref: str, *kinds: EntryKind) -> list[LedgerEntry]:
    """The student's entries for this exact session reference, of the given kinds."""
    return list(db.session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.student_id == student_id,
            LedgerEntry.session_ref == session_ref,
            LedgerEntry.kind.in_([kind.value for kind in kinds]),
        ).order_by(LedgerEntry.id)
    ))


_CANCELLATION_KINDS = (EntryKind.CONSUMPTION_REVERSAL, EntryKind.REFUND_REVERSAL,
                       EntryKind.DISPUTE_HOLD, EntryKind.CANCELLATION_UNRETURNED)


def session_owners(session_ref: str) -> set[int]:
    """The students who have a session recorded under this reference."""
    return set(db.session.scalars(select(LedgerEntry.student_id).where(
        LedgerEntry.kind == EntryKind.CONSUMPTION.value, LedgerEntry.session_ref == session_ref)))


def lost_in_dispute(lot: Lot) -> bool:
    """Whether a dispute over the lot's payment was lost (the ledger's own record of it)."""
    return db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.lot_id == lot.id, LedgerEntry.kind == EntryKind.DISPUTE_LOSS.value)) > 0


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
        if _session_entries(student_id, session_ref, *_CANCELLATION_KINDS):
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
            minutes=-take, reference=session_ref, session_ref=session_ref,
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
    them back: nothing to an expired lot or one lost in a dispute (a record says so); a
    refund's unpaid share is taken first; during an open dispute they go on hold. A repeated
    cancellation returns the entries written the first time."""
    balance = lock_balance(student_id)
    consumed = _session_entries(student_id, session_ref, EntryKind.CONSUMPTION)
    if not consumed:
        raise NotFound(f"No session {session_ref!r} was recorded for this student.")
    done = _session_entries(student_id, session_ref, *_CANCELLATION_KINDS)
    if done:
        return done
    written = []
    for entry in consumed:
        lot = db.session.get(Lot, entry.lot_id, populate_existing=True)
        key = f"cancel:{student_id}:{session_ref}:lot:{lot.id}"
        if lot.expires_at is not None and lot.expires_at <= now:
            written.append(_unreturned(lot, entry, key, now, "the package had expired"))
        elif lost_in_dispute(lot):
            written.append(_unreturned(lot, entry, key, now, "the payment's dispute was lost"))
        else:
            written += return_minutes(lot, balance, -entry.minutes, key, session_ref)
    db.session.flush()
    log.info("session %s of student %d cancelled: %d minutes usable again", session_ref,
             student_id, sum(e.minutes for e in written))
    return written


def _unreturned(lot: Lot, consumption: LedgerEntry, key: str, now: datetime,
                why: str) -> LedgerEntry:
    """Record that a cancelled session's minutes stay used on this lot, and why. Dated
    `now`, the moment the cancellation was judged, so that verify can check the reason."""
    entry = LedgerEntry(
        student_id=lot.student_id, lot_id=lot.id,
        kind=EntryKind.CANCELLATION_UNRETURNED.value, minutes=0,
        reference=consumption.session_ref, session_ref=consumption.session_ref,
        idempotency_key=f"cancellation_unreturned:{key}", created_at=now,
        note=f"{-consumption.minutes} minutes not returned: {why}")
    db.session.add(entry)
    return entry
