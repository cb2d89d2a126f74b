"""A paid purchase's credit written at once: the lot, its ledger entry, the balance, the
purchase's new state and the student's email in one statement on PostgreSQL (a chain of
data-modifying CTEs), and in a few Core statements on SQLite, with no ORM flush either way.

The caller holds the purchase's row lock (SELECT … FOR UPDATE), so no other transaction
credits the same purchase meanwhile; the payment's credit entry already there (its
idempotency key) makes the credit a no-op all the same, and then only the purchase's state
is written.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Integer, Update, bindparam, exists, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from storefront.extensions import db
from storefront.ledger.entries import credit_entry_values, credit_key, lot_expiry
from storefront.models import Balance, LedgerEntry, Lot, OutgoingMail, Purchase
from storefront.models.base import UTCDateTime, utcnow

log = logging.getLogger(__name__)

MailRow = Callable[[Purchase], Mapping[str, Any]]


class AlsoWrite(NamedTuple):
    """An UPDATE of another table, written with the credit in the same round trip (a caller's
    own record of it): a statement built once (a module constant), and its parameters, whose
    names must not start with c_, lot_, entry_, set_ or mail_."""

    statement: Update
    params: Mapping[str, Any]

_LOT_COLUMNS = ("student_id", "purchase_id", "minutes_granted", "minutes_remaining",
                "minutes_on_hold", "expires_at", "created_at")


def credit_paid_purchase(purchase: Purchase, paid_at: datetime, changes: Mapping[str, Any],
                         mail: MailRow | None = None, also: AlsoWrite | None = None) -> bool:
    """Write `changes` (and paid_at, the hours' expiry) to the locked purchase and credit its
    minutes as a lot with its entry, the balance and the email `mail` renders, together, with
    `also` written whether or not the credit was new.

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
    params = {"c_purchase": purchase.id, "c_key": key, "c_student": purchase.student_id,
              "c_minutes": purchase.minutes, "c_now": now,
              **_prefixed("lot", lot), **_prefixed("entry", entry),
              **_prefixed("set", values), **_prefixed("mail", mail_row or {})}
    if also is not None:
        assert params.keys().isdisjoint(also.params), "also: parameter names taken"
        params.update(also.params)
    shape = (tuple(entry), tuple(values), tuple(mail_row) if mail_row else None,
             also.statement if also is not None else None)
    if db.session.get_bind().dialect.name == "postgresql":
        lot_id = db.session.execute(_one_statement(*shape), params).scalar_one_or_none()
    else:
        lot_id = _statement_by_statement(shape, params)
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


# The statements are built once for each shape of the credit (which purchase columns change,
# whether an email goes with it) and executed with parameters: SQLAlchemy then neither builds
# nor hashes them again, and each compiles once per process. They are Core statements on
# the tables: executed with parameters, the ORM's versions would be bulk INSERTs. Parameter
# names are prefixed so that none is taken for a column of the table an INSERT or UPDATE
# writes.

def _prefixed(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    return {f"{prefix}_{name}": value for name, value in values.items()}


def _params_of(prefix: str, table, columns: tuple[str, ...]) -> list:
    """One typed bound parameter per column, named prefix_column."""
    return [bindparam(f"{prefix}_{name}", type_=table.c[name].type) for name in columns]


def _new_lot():
    """INSERT the lot unless the payment's credit entry exists. A lot of the purchase
    without that entry is damaged data: the lots' unique purchase_id then fails the
    statement, and the whole transaction with it, rather than completing the purchase
    without its hours."""
    return insert(Lot.__table__).from_select(
        list(_LOT_COLUMNS), select(*_params_of("lot", Lot.__table__, _LOT_COLUMNS))
        .where(~exists().where(LedgerEntry.idempotency_key == bindparam("c_key")))
    ).returning(Lot.id)


def _new_entry(lot_id, entry_columns: tuple[str, ...]):
    return insert(LedgerEntry.__table__).from_select(
        ["lot_id", *entry_columns],
        select(lot_id, *_params_of("entry", LedgerEntry.__table__, entry_columns)))


def _raise_balance():
    return (update(Balance.__table__).where(Balance.student_id == bindparam("c_student"))
            .values(available_minutes=Balance.available_minutes + bindparam("c_minutes"),
                    updated_at=bindparam("c_now")))


def _open_balance(*conditions):
    return insert(Balance.__table__).from_select(
        ["student_id", "available_minutes", "updated_at"],
        select(bindparam("c_student", type_=Integer()), bindparam("c_minutes", type_=Integer()),
               bindparam("c_now", type_=UTCDateTime()))
        .where(~exists().where(Balance.student_id == bindparam("c_student")), *conditions))


def _move_purchase(columns: tuple[str, ...]):
    return (update(Purchase.__table__).where(Purchase.id == bindparam("c_purchase"))
            .values({name: bindparam(f"set_{name}") for name in columns}))


def _queue_mail(mail_columns: tuple[str, ...], *conditions):
    return insert(OutgoingMail.__table__).from_select(
        list(mail_columns),
        select(*_params_of("mail", OutgoingMail.__table__, mail_columns)).where(*conditions))


@functools.cache
def _one_statement(entry_columns: tuple[str, ...], purchase_columns: tuple[str, ...],
                   mail_columns: tuple[str, ...] | None, also: Update | None):
    """PostgreSQL: every write in one round trip. Each step after the lot selects from the
    step before, so nothing is credited or mailed when the lot already existed. (Generic
    Core constructs rather than the dialect's ON CONFLICT, which SQLAlchemy 2.0 compiles
    afresh for every execution.)"""
    new_lot = _new_lot().cte("new_lot")
    new_entry = (_new_entry(new_lot.c.id, entry_columns).returning(LedgerEntry.id)
                 .cte("new_entry"))
    credited = exists().select_from(new_entry)
    # The balance row is raised when it exists and opened when it does not: one of the two.
    raised = _raise_balance().where(credited).returning(Balance.student_id).cte("raised")
    opened = _open_balance(credited).returning(Balance.student_id).cte("opened")
    moved = _move_purchase(purchase_columns).returning(Purchase.id).cte("moved_purchase")
    ctes = [new_entry, raised, opened, moved]
    if mail_columns is not None:
        ctes.append(_queue_mail(mail_columns, credited).returning(OutgoingMail.id)
                    .cte("queued_mail"))
    if also is not None:
        ctes.append(also.cte("also_written"))
    return select(new_lot.c.id).add_cte(*ctes)


@functools.cache
def _statements(entry_columns: tuple[str, ...], purchase_columns: tuple[str, ...],
                mail_columns: tuple[str, ...] | None, also: Update | None):
    """SQLite's statements for one shape of the credit, in the order they run."""
    entry = insert(LedgerEntry.__table__).values(
        lot_id=bindparam("c_lot"),
        **{name: bindparam(f"entry_{name}") for name in entry_columns})
    mail = (None if mail_columns is None else insert(OutgoingMail.__table__).values(
        {name: bindparam(f"mail_{name}") for name in mail_columns}))
    return _new_lot(), entry, _raise_balance(), _open_balance(), mail, \
        _move_purchase(purchase_columns), also


def _statement_by_statement(shape, params: dict[str, Any]) -> int | None:
    """SQLite (no data-modifying CTEs): the same writes one after another, under the
    database's write lock that every transaction takes at BEGIN."""
    new_lot, entry, raise_balance, open_balance, mail, move, also = _statements(*shape)
    lot_id = db.session.execute(new_lot, params).scalar_one_or_none()
    if lot_id is not None:
        db.session.execute(entry, {**params, "c_lot": lot_id})
        if db.session.execute(raise_balance, params).rowcount == 0:
            db.session.execute(open_balance, params)
        if mail is not None:
            db.session.execute(mail, params)
    db.session.execute(move, params)
    if also is not None:
        db.session.execute(also, params)
    return lot_id
