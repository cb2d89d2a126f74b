"""Carrying a subscription month's unused minutes into the next month's lot."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select

from storefront.extensions import db
from storefront.ledger.entries import lock_balance
from storefront.models import EntryKind, LedgerEntry, Lot

log = logging.getLogger(__name__)


def _has_entry(lot: Lot, kinds: tuple[EntryKind, ...]) -> bool:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.lot_id == lot.id, LedgerEntry.kind.in_([k.value for k in kinds]))) > 0


def roll_over(from_lot: Lot, to_lot: Lot, *, invoice_id: str, at: datetime) -> int:
    """Move what is left of `from_lot` into `to_lot` (whose grant grows by as much), with an
    entry on each side keyed on the invoice that paid `to_lot`; once per invoice. `at` is
    when `to_lot`'s period starts: a lot that lasted until then carries, even if the month
    is paid a little later; one that expired before it, was expired, or that a dispute
    touched carries nothing. Returns the minutes."""
    lock_balance(to_lot.student_id)  # the student's total is unchanged, but serialised
    out_key, in_key = f"rollover_out:invoice:{invoice_id}", f"rollover_in:invoice:{invoice_id}"
    if db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.idempotency_key == out_key)):
        return 0
    db.session.refresh(from_lot)
    minutes = from_lot.minutes_remaining
    expired = from_lot.expires_at is not None and from_lot.expires_at < at
    if minutes <= 0 or expired or from_lot.minutes_on_hold or _has_entry(
            from_lot, (EntryKind.EXPIRY, EntryKind.DISPUTE_OPENED, EntryKind.DISPUTE_HOLD)):
        return 0
    db.session.add_all([
        LedgerEntry(student_id=from_lot.student_id, lot_id=from_lot.id,
                    kind=EntryKind.ROLLOVER_OUT.value, minutes=-minutes,
                    reference=f"invoice:{invoice_id}", idempotency_key=out_key,
                    note=f"unused minutes carried into lot {to_lot.id}"),
        LedgerEntry(student_id=to_lot.student_id, lot_id=to_lot.id,
                    kind=EntryKind.ROLLOVER_IN.value, minutes=minutes,
                    reference=f"invoice:{invoice_id}", idempotency_key=in_key,
                    note=f"unused minutes carried from lot {from_lot.id}"),
    ])
    from_lot.minutes_remaining = 0
    to_lot.minutes_granted += minutes
    to_lot.minutes_remaining += minutes
    db.session.flush()
    log.info("rolled %d minutes from lot %d into lot %d (invoice %s)", minutes, from_lot.id,
             to_lot.id, invoice_id)
    return minutes
