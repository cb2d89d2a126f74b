"""Changes to one purchase's lot: a later expiry, refunds, and disputes."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from storefront.errors import StorefrontError, ValidationError
from storefront.extensions import db
from storefront.ledger.entries import LATEST_EXPIRY, lock_balance
from storefront.models import EntryKind, ExpiryNotice, LedgerEntry, Lot, Purchase
from storefront.rounding import divide_half_up

log = logging.getLogger(__name__)
MAX_EXTENSION_DAYS = 365


class LotUnavailable(StorefrontError):
    error_type = "invalid_state"
    status = 409


def refund_target_minutes(granted: int, refunded_minor: int, price_minor: int) -> int:
    """The minutes a refund of `refunded_minor` takes back: the same share of the grant,
    rounded half-up (nothing for a free month, which cannot be refunded)."""
    if refunded_minor <= 0 or price_minor <= 0:
        return 0
    return divide_half_up(granted * refunded_minor, price_minor)


def _sum(lot: Lot, kind: EntryKind) -> int:
    return int(db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.minutes), 0)).where(
        LedgerEntry.lot_id == lot.id, LedgerEntry.kind == kind.value)))


def _closing_keys(dispute_id: str) -> tuple[str, ...]:
    return (f"dispute_won:{dispute_id}", f"dispute_loss:{dispute_id}",
            f"dispute_release:{dispute_id}")  # the last alone: a win before dispute_won


def _open_dispute(lot: Lot) -> str | None:
    """The id of the dispute open on this lot, if one is: the ledger recorded its opening
    (or, before such records, its hold) and not its end. Read from the records, not from
    the minutes on hold, which may be none."""
    rows = db.session.execute(
        select(LedgerEntry.kind, LedgerEntry.reference, LedgerEntry.idempotency_key).where(
            LedgerEntry.lot_id == lot.id,
            LedgerEntry.kind.in_([EntryKind.DISPUTE_OPENED.value, EntryKind.DISPUTE_HOLD.value,
                                  EntryKind.DISPUTE_WON.value, EntryKind.DISPUTE_LOSS.value,
                                  EntryKind.DISPUTE_RELEASE.value]))
        .order_by(LedgerEntry.id)).all()
    closed = {reference for _, reference, key in rows if key in _closing_keys(reference)}
    opened = [reference for kind, reference, _ in rows
              if kind in (EntryKind.DISPUTE_OPENED.value, EntryKind.DISPUTE_HOLD.value)
              and reference not in closed]
    return opened[-1] if opened else None


def return_minutes(lot: Lot, balance, minutes: int, key: str,
                   reference: str) -> list[LedgerEntry]:
    """Give consumed minutes back to a lot (the caller holds the balance lock): first the
    reversal, then the share a refund could not take at the time, then, while a dispute is
    open, a hold on what is left."""
    purchase = lot.purchase
    entries = [_entry(lot, EntryKind.CONSUMPTION_REVERSAL, minutes, reference,
                      f"consumption_reversal:{key}", session_ref=reference)]
    lot.minutes_remaining += minutes
    balance.available_minutes += minutes
    owed = refund_target_minutes(lot.minutes_granted, purchase.refunded_minor,
                                 purchase.price_minor) + _sum(lot, EntryKind.REFUND_REVERSAL)
    if owed > 0:
        take = min(owed, minutes)
        entries.append(_entry(lot, EntryKind.REFUND_REVERSAL, -take, purchase.payment_intent_id,
                              f"refund_reversal:{purchase.id}:{key}",
                              note="refunded share of a cancelled session",
                              session_ref=reference))
        lot.minutes_remaining -= take
        balance.available_minutes -= take
        minutes -= take
    dispute_id = _open_dispute(lot)
    if dispute_id is not None and minutes > 0:
        entries.append(_entry(lot, EntryKind.DISPUTE_HOLD, -minutes, dispute_id,
                              f"dispute_hold:{dispute_id}:{key}", session_ref=reference))
        lot.minutes_remaining -= minutes
        lot.minutes_on_hold += minutes
        balance.available_minutes -= minutes
    return entries


def lot_of(purchase: Purchase) -> Lot:
    """The purchase's lot, freshly read; LotUnavailable if it was never credited."""
    lot = db.session.scalars(
        select(Lot).where(Lot.purchase_id == purchase.id)
        .execution_options(populate_existing=True)
    ).first()
    if lot is None:
        raise LotUnavailable(f"Purchase {purchase.id} has no credited hours.")
    return lot


def _entry(lot: Lot, kind: EntryKind, minutes: int, reference: str, key: str,
           note: str | None = None, session_ref: str | None = None) -> LedgerEntry:
    entry = LedgerEntry(student_id=lot.student_id, lot_id=lot.id, kind=kind.value,
                        minutes=minutes, reference=reference, idempotency_key=key, note=note,
                        session_ref=session_ref)
    db.session.add(entry)
    return entry


def _existing(key: str) -> LedgerEntry | None:
    return db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.idempotency_key == key)).first()


def extend_expiry(*, purchase: Purchase, days: int, reason: str, now: datetime,
                  request_key: str | None = None) -> LedgerEntry:
    """Move the lot's expiry later by `days`, recorded as an entry of its own (the entry's
    lot holds the new date; the purchase's copy is the caller's to update).

    A lot whose minutes were already expired stays expired (use an adjustment instead).
    """
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        raise ValidationError.for_fields(
            {"extension_days": [f"Enter a whole number of days from 1 to {MAX_EXTENSION_DAYS}."]})
    if not reason.strip():
        raise ValidationError.for_fields({"reason": ["Say why the package is extended."]})
    key = f"expiry_extension:{purchase.id}:{request_key or uuid.uuid4().hex}"
    lock_balance(purchase.student_id)
    if (done := _existing(key)) is not None:
        return done
    lot = lot_of(purchase)
    if lot.expires_at is None:
        raise LotUnavailable("This purchase has no expiry to extend.")
    expired = db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.lot_id == lot.id, LedgerEntry.kind == EntryKind.EXPIRY.value))
    if expired:
        raise LotUnavailable("This package has already expired; its hours are gone.")
    lot.expires_at = min(max(lot.expires_at, now) + timedelta(days=days), LATEST_EXPIRY)
    # The new date deserves its own "expires soon" reminders.
    db.session.execute(delete(ExpiryNotice).where(ExpiryNotice.lot_id == lot.id))
    entry = _entry(lot, EntryKind.EXPIRY_EXTENSION, 0, f"lot:{lot.id}", key,
                   note=f"+{days} days to {lot.expires_at.date().isoformat()}: {reason.strip()}")
    db.session.flush()
    return entry


def reverse_refunded_share(purchase: Purchase, refunded_minor: int) -> LedgerEntry | None:
    """Reverse the share of the granted minutes that a refund of `refunded_minor` in all
    takes back, never more than remain (held minutes come out of the hold). What earlier
    totals reversed counts, so the same or a smaller total changes nothing."""
    balance = lock_balance(purchase.student_id)
    lot = lot_of(purchase)
    target = refund_target_minutes(lot.minutes_granted, refunded_minor, purchase.price_minor)
    owed = target + _sum(lot, EntryKind.REFUND_REVERSAL)
    take = min(owed, lot.minutes_remaining)
    entry = None
    if take > 0:
        entry = _entry(lot, EntryKind.REFUND_REVERSAL, -take, purchase.payment_intent_id,
                       f"refund_reversal:{purchase.id}:{refunded_minor}",
                       note=f"refunded {refunded_minor} of {purchase.price_minor}")
        lot.minutes_remaining -= take
        balance.available_minutes -= take
    from_hold = min(owed - max(take, 0), lot.minutes_on_hold)
    dispute_id = _open_dispute(lot)
    if from_hold > 0 and dispute_id is not None:
        # Refunded minutes that a dispute holds: out of the hold, then reversed.
        _entry(lot, EntryKind.DISPUTE_RELEASE, from_hold, dispute_id,
               f"dispute_release:{dispute_id}:refund:{purchase.id}:{refunded_minor}")
        entry = _entry(lot, EntryKind.REFUND_REVERSAL, -from_hold, purchase.payment_intent_id,
                       f"refund_reversal:{purchase.id}:{refunded_minor}:held",
                       note=f"refunded {refunded_minor} of {purchase.price_minor}, held part")
        lot.minutes_on_hold -= from_hold
    db.session.flush()
    log.info("purchase %d: refunded %d in all; %d minutes reversed", purchase.id,
             refunded_minor, max(take, 0) + max(from_hold, 0))
    return entry


def _dispute_recorded(dispute_id: str) -> bool:
    """Whether the ledger already recorded this dispute's opening (or, before such
    records, its hold)."""
    return (_existing(f"dispute_opened:{dispute_id}") is not None
            or _existing(f"dispute_hold:{dispute_id}") is not None)


def hold_for_dispute(purchase: Purchase, dispute_id: str) -> LedgerEntry | None:
    """Record that a dispute opened over the lot's payment and hold the lot's remaining
    minutes, if any (once per dispute). Returns the opening record."""
    balance = lock_balance(purchase.student_id)
    if _dispute_recorded(dispute_id):
        return None
    lot = lot_of(purchase)
    opened = _entry(lot, EntryKind.DISPUTE_OPENED, 0, dispute_id, f"dispute_opened:{dispute_id}",
                    note=f"{lot.minutes_remaining} minutes held")
    held = lot.minutes_remaining
    if held > 0:
        _entry(lot, EntryKind.DISPUTE_HOLD, -held, dispute_id, f"dispute_hold:{dispute_id}")
        lot.minutes_remaining, lot.minutes_on_hold = 0, lot.minutes_on_hold + held
        balance.available_minutes -= held
    db.session.flush()
    return opened


def close_dispute(purchase: Purchase, dispute_id: str, *, won: bool) -> LedgerEntry | None:
    """Won (or an inquiry closed): the held minutes come back. Lost: they are voided, and
    minutes of sessions cancelled later stay used. Either way a record says so, even with
    nothing held. Once per dispute; a close heard without its opening records both."""
    balance = lock_balance(purchase.student_id)
    if any(_existing(key) is not None for key in _closing_keys(dispute_id)):
        return None
    hold_for_dispute(purchase, dispute_id)
    lot = lot_of(purchase)
    held = lot.minutes_on_hold
    lot.minutes_on_hold = 0
    if won:
        if held > 0:
            _entry(lot, EntryKind.DISPUTE_RELEASE, held, dispute_id,
                   f"dispute_release:{dispute_id}")
            lot.minutes_remaining += held
            balance.available_minutes += held
        entry = _entry(lot, EntryKind.DISPUTE_WON, 0, dispute_id, f"dispute_won:{dispute_id}",
                       note=f"{held} minutes released")
    else:
        entry = _entry(lot, EntryKind.DISPUTE_LOSS, 0, dispute_id, f"dispute_loss:{dispute_id}",
                       note=f"{held} minutes voided")
    db.session.flush()
    return entry
