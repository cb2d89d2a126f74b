"""Checking the ledger's invariants (DESIGN.md, "The ledger")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, or_, select, text

from storefront.extensions import db
from storefront.ledger.lots import refund_target_minutes
from storefront.models import Balance, EntryKind, LedgerEntry, Lot, Purchase, PurchaseStatus
from storefront.models.ledger import PENDING_KINDS
from storefront.models.purchase import PAID_STATUSES


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """On PostgreSQL, read in one REPEATABLE READ snapshot (read only, ended afterwards), so
    that a payment or session committed between the checks' statements is not a mismatch.
    Inside a transaction already begun, its reads are used as they are; SQLite's writers
    already wait for the check (storefront/database.py)."""
    session = db.session()
    if session.in_transaction() or session.get_bind().dialect.name != "postgresql":
        yield
        return
    session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    session.execute(text("SET TRANSACTION READ ONLY"))
    try:
        yield
    finally:
        session.rollback()


def verify_ledger() -> list[str]:
    """Every violated invariant, one line each; an empty list means the ledger is sound."""
    with _one_snapshot():
        return _problems()


def _problems() -> list[str]:
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

    problems += _credit_problems()
    problems += _pending_problems(balances)
    problems += _session_problems()
    return problems


def _pending_problems(balances: dict[int, Balance]) -> list[str]:
    """Pending minutes (a bank payment clearing) agree with their entries, per student and
    per lot, belong to a purchase still processing, and are never drawn from: no entry takes
    minutes from a lot before its credit."""
    problems: list[str] = []
    by_student = dict(db.session.execute(
        select(LedgerEntry.student_id, func.sum(LedgerEntry.pending_minutes))
        .where(LedgerEntry.kind.in_(PENDING_KINDS)).group_by(LedgerEntry.student_id)).all())
    for student_id in sorted(set(by_student) | set(balances)):
        total = int(by_student.get(student_id) or 0)
        balance = balances.get(student_id)
        pending = balance.pending_minutes if balance else 0
        if pending != total:
            problems.append(f"student {student_id}: pending {pending} != sum of pending "
                            f"entries {total}")
    by_lot = dict(db.session.execute(
        select(LedgerEntry.lot_id, func.sum(LedgerEntry.pending_minutes))
        .where(LedgerEntry.kind.in_(PENDING_KINDS)).group_by(LedgerEntry.lot_id)).all())
    lots = db.session.execute(
        select(Lot, Purchase).join(Purchase, Lot.purchase_id == Purchase.id)
        .where(or_(Lot.id.in_(list(by_lot)), Lot.minutes_pending != 0)).order_by(Lot.id))
    for lot, purchase in lots.tuples():
        total = int(by_lot.get(lot.id) or 0)
        if lot.minutes_pending != total:
            problems.append(f"lot {lot.id}: pending {lot.minutes_pending} != sum of its "
                            f"pending entries {total}")
        if lot.minutes_pending and purchase.state is not PurchaseStatus.PROCESSING:
            problems.append(f"lot {lot.id}: {lot.minutes_pending} minutes still pending, but "
                            f"purchase {purchase.id} is {purchase.status}")
        problems += _drawn_before_credit(lot)
    return problems


def _drawn_before_credit(lot: Lot) -> list[str]:
    """Entries that took minutes from a once-pending lot before its credit (or without one):
    pending minutes spent."""
    entries = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.kind, LedgerEntry.minutes)
        .where(LedgerEntry.lot_id == lot.id, LedgerEntry.minutes != 0)
        .order_by(LedgerEntry.id)).all()
    problems = []
    for _, kind, minutes in entries:
        if kind == EntryKind.PURCHASE_CREDIT.value:
            break
        if minutes < 0:
            problems.append(f"lot {lot.id}: {-minutes} minutes drawn ({kind}) before its "
                            "payment cleared")
    return problems


def _credit_problems() -> list[str]:
    """One credit per purchase (so per subscription invoice); a subscription month names its
    invoice, and its hours last at least until its billing period ends."""
    problems: list[str] = []
    credits = db.session.execute(
        select(Lot.purchase_id, func.count()).join(LedgerEntry, LedgerEntry.lot_id == Lot.id)
        .where(LedgerEntry.kind == EntryKind.PURCHASE_CREDIT.value)
        .group_by(Lot.purchase_id).having(func.count() > 1).order_by(Lot.purchase_id)).all()
    for purchase_id, count in credits:
        problems.append(f"purchase {purchase_id}: credited {count} times")
    months = db.session.execute(
        select(Purchase, Lot).outerjoin(Lot, Lot.purchase_id == Purchase.id)
        .where(Purchase.subscription_id.is_not(None)).order_by(Purchase.id)).tuples()
    for purchase, lot in months:
        if purchase.stripe_invoice_id is None:
            problems.append(f"purchase {purchase.id}: subscription month without its invoice")
        if (lot is not None and purchase.period_end is not None
                and (lot.expires_at is None or lot.expires_at < purchase.period_end)):
            problems.append(f"purchase {purchase.id}: its hours expire before its billing "
                            "period ends")
    return problems


def _session_problems() -> list[str]:
    """A cancelled session's minutes go back exactly to the lots it drew from, or stay used
    only where the lot had expired or its dispute was lost; nothing returns to a session
    that never drew from the lot."""
    problems: list[str] = []
    drawn: dict[tuple, int] = defaultdict(int)
    returned: dict[tuple, int] = defaultdict(int)
    unreturned: dict[tuple, LedgerEntry] = {}
    cancelled, lots = set(), defaultdict(set)
    for entry in db.session.scalars(
            select(LedgerEntry).where(LedgerEntry.session_ref.is_not(None))
            .order_by(LedgerEntry.id)):
        session = (entry.student_id, entry.session_ref)
        lots[session].add(entry.lot_id)
        if entry.kind == EntryKind.CONSUMPTION.value:
            drawn[session, entry.lot_id] -= entry.minutes
            continue
        cancelled.add(session)
        if entry.kind == EntryKind.CONSUMPTION_REVERSAL.value:
            returned[session, entry.lot_id] += entry.minutes
        elif entry.kind == EntryKind.CANCELLATION_UNRETURNED.value:
            unreturned[session, entry.lot_id] = entry
    for session in sorted(cancelled, key=lambda s: (s[0], s[1])):
        student_id, ref = session
        name = f"session {ref!r} of student {student_id}"
        for lot_id in sorted(lots[session]):
            gave, back = drawn.get((session, lot_id), 0), returned.get((session, lot_id), 0)
            record = unreturned.get((session, lot_id))
            if back > gave:
                problems.append(f"{name}: {back} minutes returned to lot {lot_id}, "
                                f"which gave it {gave}")
            elif record is not None and not _may_keep(lot_id, record):
                problems.append(f"{name}: cancelled, but {gave - back} minutes on lot "
                                f"{lot_id} were not returned though the lot had neither "
                                "expired nor been lost in a dispute")
            elif record is None and back < gave:
                problems.append(f"{name}: cancelled, but only {back} of the {gave} minutes "
                                f"drawn from lot {lot_id} were returned")
    return problems


def _may_keep(lot_id: int, record: LedgerEntry) -> bool:
    """Whether a cancelled session's minutes could rightly stay used on this lot: it had
    expired when the cancellation was judged (or has been extended since), or its payment's
    dispute was lost."""
    kinds = set(db.session.scalars(select(LedgerEntry.kind).where(
        LedgerEntry.lot_id == lot_id, LedgerEntry.id < record.id)))
    if EntryKind.DISPUTE_LOSS.value in kinds:
        return True
    lot = db.session.get(Lot, lot_id)
    if lot.expires_at is None:
        return False
    return lot.expires_at <= record.created_at or db.session.scalar(
        select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.lot_id == lot_id,
            LedgerEntry.kind == EntryKind.EXPIRY_EXTENSION.value)) > 0
