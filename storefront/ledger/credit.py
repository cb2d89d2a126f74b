"""A paid purchase's credit written at once: the lot, its ledger entry, the balance, the
purchase's new state and the student's email in one statement on PostgreSQL (a chain of
data-modifying CTEs), and in a few Core statements on SQLite, with no ORM flush either way.

The caller holds the purchase's row lock (SELECT … FOR UPDATE), so no other transaction
credits the same purchase meanwhile; the payment's credit entry already there (its
idempotency key) makes the credit a no-op all the same, and then only the purchase's state
is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, exists, insert, literal, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from storefront.extensions import db
from storefront.ledger.entries import credit_entry_values, credit_key, lot_expiry
from storefront.models import Balance, LedgerEntry, Lot, OutgoingMail, Purchase
from storefront.models.base import UTCDateTime, utcnow

log = logging.getLogger(__name__)

MailRow = Callable[[Purchase], Mapping[str, Any]]


def _typed(value: Any, column) -> Any:
    return literal(value, column.type)


def credit_paid_purchase(purchase: Purchase, paid_at: datetime, changes: Mapping[str, Any],
                         mail: MailRow | None = None) -> bool:
    """Write `changes` (and paid_at, the hours' expiry) to the locked purchase and credit its
    minutes as a lot with its entry, the balance and the email `mail` renders, together.

    True when credited now; False when this payment's credit existed already (the
    purchase's state is written all the same, and no email queued). The purchase object is
    updated in place, without a flush.
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
    entry = {**credit_entry_values(purchase, key), "created_at": now}
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


def _new_lot(lot: dict[str, Any], key: str):
    """INSERT the lot unless the payment's credit entry exists. A lot of the purchase
    without that entry is damaged data: the lots' unique purchase_id then fails the
    statement, and the whole transaction with it, rather than completing the purchase
    without its hours."""
    return insert(Lot).from_select(
        list(lot), select(*(_typed(value, Lot.__table__.c[name]) for name, value in lot.items()))
        .where(~exists().where(LedgerEntry.idempotency_key == key))).returning(Lot.id)


def _raise_balance(student_id: int, minutes: int, now: datetime):
    return (update(Balance).where(Balance.student_id == student_id)
            .values(available_minutes=Balance.available_minutes + minutes, updated_at=now))


def _open_balance(student_id: int, minutes: int, now: datetime, *conditions):
    return insert(Balance).from_select(
        ["student_id", "available_minutes", "updated_at"],
        select(literal(student_id, Integer()), literal(minutes, Integer()),
               literal(now, UTCDateTime()))
        .where(~exists().where(Balance.student_id == student_id), *conditions))


def _credit_in_one_statement(lot: dict[str, Any], entry: dict[str, Any], move,
                             mail_row: dict[str, Any] | None) -> int | None:
    """PostgreSQL: every write in one round trip. Each step after the lot selects from the
    step before, so nothing is credited or mailed when the lot already existed. (Generic
    Core constructs rather than the dialect's ON CONFLICT, which SQLAlchemy 2.0 compiles
    afresh for every execution.)"""
    new_lot = _new_lot(lot, entry["idempotency_key"]).cte("new_lot")
    new_entry = (insert(LedgerEntry).from_select(
        ["lot_id", *entry],
        select(new_lot.c.id, *(_typed(value, LedgerEntry.__table__.c[name])
                               for name, value in entry.items())))
        .returning(LedgerEntry.id).cte("new_entry"))
    credited = exists().select_from(new_entry)
    student_id, minutes, now = lot["student_id"], lot["minutes_granted"], entry["created_at"]
    # The balance row is raised when it exists and opened when it does not: one of the two.
    raised = (_raise_balance(student_id, minutes, now).where(credited)
              .returning(Balance.student_id).cte("raised_balance"))
    opened = (_open_balance(student_id, minutes, now, credited)
              .returning(Balance.student_id).cte("opened_balance"))
    ctes = [new_entry, raised, opened, move.returning(Purchase.id).cte("moved_purchase")]
    if mail_row is not None:
        columns = OutgoingMail.__table__.c
        ctes.append(insert(OutgoingMail).from_select(
            list(mail_row),
            select(*(_typed(value, columns[name]) for name, value in mail_row.items()))
            .where(credited))
            .returning(OutgoingMail.id).cte("queued_mail"))
    statement = select(new_lot.c.id).add_cte(*ctes)
    return db.session.execute(statement).scalar_one_or_none()


def _credit_statement_by_statement(lot: dict[str, Any], entry: dict[str, Any], move,
                                   mail_row: dict[str, Any] | None) -> int | None:
    """SQLite (no data-modifying CTEs): the same writes one after another, under the
    database's write lock that every transaction takes at BEGIN."""
    lot_id = db.session.execute(
        _new_lot(lot, entry["idempotency_key"])).scalar_one_or_none()
    if lot_id is not None:
        db.session.execute(insert(LedgerEntry).values(lot_id=lot_id, **entry))
        student_id, minutes, now = lot["student_id"], lot["minutes_granted"], entry["created_at"]
        if db.session.execute(_raise_balance(student_id, minutes, now)).rowcount == 0:
            db.session.execute(_open_balance(student_id, minutes, now))
        if mail_row is not None:
            db.session.execute(insert(OutgoingMail).values(**mail_row))
    db.session.execute(move)
    return lot_id
