"""Pending lots: the minutes of a bank payment still clearing (SEPA Direct Debit and other
delayed methods), recorded on the purchase's lot but not available until the payment
succeeds.

A pending lot has its whole grant in `minutes_pending`, nothing remaining and no expiry:
nothing can draw from it, it never expires and a refund takes no hours from it. The
ledger records each step in `pending_minutes` (never in `minutes`, so no available total
counts it): `pending_credit` when the payment starts clearing, then `pending_cleared`
followed by the lot's `purchase_credit` when it succeeds, or `pending_removed` when it
fails. The caller holds the purchase's row lock; the balance row is locked here.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select

from storefront.extensions import db
from storefront.ledger.entries import credit_entry_values, credit_key, lock_balance, lot_expiry
from storefront.models import Balance, EntryKind, LedgerEntry, Lot, Purchase, PurchaseStatus

log = logging.getLogger(__name__)


def lot_of_purchase(purchase: Purchase) -> Lot | None:
    """The purchase's lot (pending, credited, or once pending), freshly read; None if none."""
    return db.session.scalars(
        select(Lot).where(Lot.purchase_id == purchase.id)
        .execution_options(populate_existing=True)).first()


def pending_minutes_of(purchase: Purchase) -> int:
    """The purchase's minutes pending while its bank payment clears (0 when none are)."""
    if purchase.state is not PurchaseStatus.PROCESSING:
        return 0
    return db.session.scalar(select(Lot.minutes_pending).where(
        Lot.purchase_id == purchase.id)) or 0


def _pending_entry(lot: Lot, kind: EntryKind, pending: int, key: str,
                   purchase: Purchase) -> LedgerEntry:
    entry = LedgerEntry(student_id=lot.student_id, lot_id=lot.id, kind=kind.value, minutes=0,
                        pending_minutes=pending, reference=purchase.payment_intent_id,
                        idempotency_key=key,
                        note=f"{purchase.plan_name} (purchase {purchase.id})")
    db.session.add(entry)
    return entry


def _credited(purchase: Purchase) -> bool:
    return db.session.scalar(select(LedgerEntry.id).where(
        LedgerEntry.idempotency_key == credit_key(purchase))) is not None


def pend_purchase(purchase: Purchase) -> bool:
    """Record the purchase's minutes as pending while its payment clears; True when they
    became pending now (False: pending already, or credited)."""
    balance = lock_balance(purchase.student_id)
    lot = lot_of_purchase(purchase)
    if lot is None:
        lot = Lot(student_id=purchase.student_id, purchase_id=purchase.id,
                  minutes_granted=purchase.minutes, minutes_remaining=0, minutes_on_hold=0,
                  minutes_pending=0, expires_at=None)
        db.session.add(lot)
        db.session.flush()
    elif lot.minutes_pending > 0 or _credited(purchase):
        return False
    # A payment may clear, fail and be tried again by bank: one key per time it pends.
    times = db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.lot_id == lot.id, LedgerEntry.kind == EntryKind.PENDING_CREDIT.value))
    _pending_entry(lot, EntryKind.PENDING_CREDIT, lot.minutes_granted,
                   f"pending_credit:{purchase.payment_intent_id}:{times + 1}", purchase)
    lot.minutes_pending = lot.minutes_granted
    balance.pending_minutes += lot.minutes_granted
    db.session.flush()
    log.info("purchase %d: %d minutes pending while its payment clears (lot %d)",
             purchase.id, lot.minutes_pending, lot.id)
    return True


def _clear(lot: Lot, balance: Balance, purchase: Purchase) -> None:
    if lot.minutes_pending > 0:
        _pending_entry(lot, EntryKind.PENDING_CLEARED, -lot.minutes_pending,
                       f"pending_cleared:{purchase.payment_intent_id}", purchase)
        balance.pending_minutes -= lot.minutes_pending
        lot.minutes_pending = 0


def credit_pending_lot(purchase: Purchase, paid_at: datetime) -> Lot | None:
    """The payment succeeded: the lot's pending minutes become available, valid from
    `paid_at`, with the purchase's credit entry (once: None when credited before). The
    purchase's own expiry copy is set too. For a purchase without a lot, None and nothing
    done (the caller credits it the usual way)."""
    balance = lock_balance(purchase.student_id)
    lot = lot_of_purchase(purchase)
    if lot is None or _credited(purchase):
        return None
    _clear(lot, balance, purchase)  # the pending minutes out, the available ones in
    lot.expires_at = lot_expiry(paid_at, purchase.validity_days)
    key = credit_key(purchase)
    db.session.add(LedgerEntry(lot_id=lot.id, **credit_entry_values(purchase, key)))
    lot.minutes_remaining = lot.minutes_granted
    balance.available_minutes += lot.minutes_granted
    purchase.expires_at = lot.expires_at
    db.session.flush()
    log.info("purchase %d: its %d pending minutes cleared and credited (lot %d)",
             purchase.id, lot.minutes_remaining, lot.id)
    return lot


def remove_pending(purchase: Purchase) -> int:
    """The payment failed: take the lot's pending minutes away (recorded); the minutes
    removed, 0 when none were pending."""
    balance = lock_balance(purchase.student_id)
    lot = lot_of_purchase(purchase)
    if lot is None or lot.minutes_pending == 0:
        return 0
    removed = lot.minutes_pending
    times = db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.lot_id == lot.id, LedgerEntry.kind == EntryKind.PENDING_REMOVED.value))
    _pending_entry(lot, EntryKind.PENDING_REMOVED, -removed,
                   f"pending_removed:{purchase.payment_intent_id}:{times + 1}", purchase)
    balance.pending_minutes -= removed
    lot.minutes_pending = 0
    db.session.flush()
    log.info("purchase %d: its payment failed; %d pending minutes removed (lot %d)",
             purchase.id, removed, lot.id)
    return removed
