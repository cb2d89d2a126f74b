"""Checking the ledger's invariants (DESIGN.md, "The ledger")."""

from __future__ import annotations

from sqlalchemy import func, select

from storefront.extensions import db
from storefront.ledger.lots import refund_target_minutes
from storefront.models import Balance, EntryKind, LedgerEntry, Lot, Purchase
from storefront.models.purchase import PAID_STATUSES


def verify_ledger() -> list[str]:
    """Every violated invariant, one line each; an empty list means the ledger is sound."""
    problems: list[str] = []

    entry_sums = dict(
        db.session.execute(
            select(LedgerEntry.student_id, func.sum(LedgerEntry.minutes)).group_by(
                LedgerEntry.student_id
            )
        ).all()
    )
    balances = {b.student_id: b for b in db.session.scalars(select(Balance))}
    for student_id in sorted(set(entry_sums) | set(balances)):
        total = int(entry_sums.get(student_id) or 0)
        balance = balances.get(student_id)
        available = balance.available_minutes if balance else 0
        if balance is None:
            problems.append(f"student {student_id}: entries sum to {total} but no balance row")
        elif available != total:
            problems.append(
                f"student {student_id}: balance {available} != sum of entries {total}"
            )
        if available < 0:
            problems.append(f"student {student_id}: available balance {available} below zero")

    lot_sums = dict(
        db.session.execute(
            select(LedgerEntry.lot_id, func.sum(LedgerEntry.minutes))
            .where(LedgerEntry.lot_id.is_not(None))
            .group_by(LedgerEntry.lot_id)
        ).all()
    )
    for lot, purchase in db.session.execute(
        select(Lot, Purchase).join(Purchase, Lot.purchase_id == Purchase.id).order_by(Lot.id)
    ).tuples():
        keep = lot.minutes_granted - refund_target_minutes(
            lot.minutes_granted, purchase.refunded_minor, purchase.price_minor)
        if lot.minutes_remaining + lot.minutes_on_hold > keep:
            problems.append(
                f"lot {lot.id}: {lot.minutes_remaining + lot.minutes_on_hold} minutes left, "
                f"but after refunds only {keep} may remain")
        if lot.minutes_remaining < 0:
            problems.append(f"lot {lot.id}: {lot.minutes_remaining} minutes, below zero")
        if lot.minutes_remaining + lot.minutes_on_hold > lot.minutes_granted:
            problems.append(
                f"lot {lot.id}: {lot.minutes_remaining} minutes (+{lot.minutes_on_hold} on "
                f"hold), above its grant of {lot.minutes_granted}"
            )
        if lot.minutes_on_hold < 0:
            problems.append(f"lot {lot.id}: {lot.minutes_on_hold} minutes on hold, below zero")
        total = int(lot_sums.get(lot.id) or 0)
        if total != lot.minutes_remaining:
            problems.append(
                f"lot {lot.id}: remaining {lot.minutes_remaining} != sum of its entries {total}"
            )

    duplicates = db.session.execute(
        select(LedgerEntry.reference, func.count())
        .where(LedgerEntry.kind == EntryKind.PURCHASE_CREDIT.value)
        .group_by(LedgerEntry.reference)
        .having(func.count() > 1)
    ).all()
    for reference, count in duplicates:
        problems.append(f"payment {reference}: credited {count} times")

    uncredited = db.session.scalars(
        select(Purchase)
        .outerjoin(Lot, Lot.purchase_id == Purchase.id)
        .where(Purchase.status.in_([s.value for s in PAID_STATUSES]), Lot.id.is_(None))
    )
    for purchase in uncredited:
        problems.append(f"purchase {purchase.id}: paid but its hours were never credited")

    return problems
