"""A paid purchase's credit written at once: the lot, its ledger entry, the balance, the
purchase's new state and the student's email in one statement on PostgreSQL (a chain of
data-modifying CTEs), and in a few Core statements on SQLite, with no ORM flush either way.

The caller holds the purchase's row lock (SELECT … FOR UPDATE), so no other transaction
credits the same purchase meanwhile; the lot's unique purchase_id makes a second credit of
the same payment a no-op all the same (then only the purchase's state is written).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from storefront.extensions import db
from storefront.ledger.entries import credit_key, lot_expiry
from storefront.models import Balance, EntryKind, LedgerEntry, Lot, OutgoingMail, Purchase
from storefront.models.base import UTCDateTime, utcnow

log = logging.getLogger(__name__)

MailRow = Callable[[Purchase], Mapping[str, Any]]


def _typed(value: Any, column) -> Any:
    return literal(value, column.type)


def _entry_values(purchase: Purchase, key: str) -> dict[str, Any]:
    return {
        "student_id": purchase.student_id,
        "kind": EntryKind.PURCHASE_CREDIT.value,
        "minutes": purchase.minutes,
        "reference": (purchase.payment_intent_id
                      or (purchase.stripe_invoice_id and f"invoice:{purchase.stripe_invoice_id}")
                      or f"purchase:{purchase.id}"),
        "idempotency_key": key,
        "note": f"{purchase.plan_name} (purchase {purchase.id})",
    }


def credit_paid_purchase(purchase: Purchase, paid_at: datetime, changes: Mapping[str, Any],
                         mail: MailRow | None = None) -> bool:
    """Write `changes` (and paid_at, the hours' expiry) to the locked purchase and credit its
    minutes as a lot with its entry, the balance and the email `mail` renders, together.

    True when credited now; False when this payment's lot existed already (the purchase's
    state is written all the same, and no email queued). The purchase object is updated in
    place, without a flush.
    """
    now = utcnow()
    expires_at = lot_expiry(paid_at, purchase.validity_days)
    values = {**changes, "paid_at": paid_at, "expires_at": expires_at, "updated_at": now}
    for name, value in values.items():
        set_committed_value(purchase, name, value)
    mail_row = dict(mail(purchase)) if mail else None
    key = credit_key(purchase)
    lot = {"student_id": purchase.student_id, "purchase_id": purchase.id,
           "minutes_granted": purchase.minutes, "minutes_remaining": purchase.minutes,
           "minutes_on_hold": 0, "expires_at": expires_at, "created_at": now}
    entry = {**_entry_values(purchase, key), "created_at": now}
    move = (update(Purchase).where(Purchase.id == purchase.id).values(**values)
            .execution_options(synchronize_session=False))
    if db.session.get_bind().dialect.name == "postgresql":
        lot_id = _credit_in_one_statement(lot, entry, move, mail_row)
    else:
        lot_id = _credit_statement_by_statement(lot, entry, move, mail_row)
    balance = db.session.identity_map.get(identity_key(Balance, purchase.student_id))
    if balance is not None:
        db.session.expire(balance)  # its minutes changed underneath
    if lot_id is None:
        log.warning("purchase %d: its payment was credited before; not crediting again",
                    purchase.id)
        return False
    log.info("credited %d minutes to student %d for purchase %d (lot %d)",
             purchase.minutes, purchase.student_id, purchase.id, lot_id)
    return True


def _credit_in_one_statement(lot: dict[str, Any], entry: dict[str, Any], move,
                             mail_row: dict[str, Any] | None) -> int | None:
    """PostgreSQL: every write in one round trip. Each step after the lot selects from the
    step before, so nothing is credited or mailed when the lot already existed."""
    new_lot = (postgresql.insert(Lot).values(**lot)
               .on_conflict_do_nothing(index_elements=["purchase_id"])
               .returning(Lot.id).cte("new_lot"))
    entry_columns = ["lot_id", *entry]
    new_entry = (postgresql.insert(LedgerEntry).from_select(
        entry_columns,
        select(new_lot.c.id, *(_typed(value, LedgerEntry.__table__.c[name])
                               for name, value in entry.items())))
        .returning(LedgerEntry.id).cte("new_entry"))
    balances = postgresql.insert(Balance)
    added = (balances.from_select(
        ["student_id", "available_minutes", "updated_at"],
        select(literal(lot["student_id"], Integer()), literal(lot["minutes_granted"], Integer()),
               literal(entry["created_at"], UTCDateTime())).select_from(new_entry))
        .on_conflict_do_update(index_elements=["student_id"], set_={
            "available_minutes": Balance.available_minutes + balances.excluded.available_minutes,
            "updated_at": balances.excluded.updated_at})
        .returning(Balance.student_id).cte("added_balance"))
    ctes = [new_entry, added, move.returning(Purchase.id).cte("moved_purchase")]
    if mail_row is not None:
        columns = OutgoingMail.__table__.c
        ctes.append(postgresql.insert(OutgoingMail).from_select(
            list(mail_row),
            select(*(_typed(value, columns[name]) for name, value in mail_row.items()))
            .select_from(new_entry))
            .returning(OutgoingMail.id).cte("queued_mail"))
    statement = select(new_lot.c.id).add_cte(*ctes)
    return db.session.execute(statement).scalar_one_or_none()


def _credit_statement_by_statement(lot: dict[str, Any], entry: dict[str, Any], move,
                                   mail_row: dict[str, Any] | None) -> int | None:
    """SQLite (no data-modifying CTEs): the same writes one after another, under the
    database's write lock that every transaction takes at BEGIN."""
    lot_id = db.session.execute(
        sqlite.insert(Lot).values(**lot).on_conflict_do_nothing(index_elements=["purchase_id"])
        .returning(Lot.id)).scalar_one_or_none()
    if lot_id is not None:
        db.session.execute(sqlite.insert(LedgerEntry).values(lot_id=lot_id, **entry))
        balances = sqlite.insert(Balance)
        db.session.execute(
            balances.values(student_id=lot["student_id"],
                            available_minutes=lot["minutes_granted"],
                            updated_at=entry["created_at"])
            .on_conflict_do_update(index_elements=["student_id"], set_={
                "available_minutes": Balance.available_minutes
                + balances.excluded.available_minutes,
                "updated_at": balances.excluded.updated_at}))
        if mail_row is not None:
            db.session.execute(sqlite.insert(OutgoingMail).values(**mail_row))
    db.session.execute(move)
    return lot_id

