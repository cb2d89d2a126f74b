"""The hour ledger: lots granted by purchases, append-only entries, and per-student balances.

Entries are the truth and are never updated or deleted. Lots' remaining minutes and the
balance row are caches of the entries, written in the same transaction as them.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storefront.extensions import db
from storefront.models.base import UTCDateTime, utcnow
from storefront.models.purchase import Purchase


class EntryKind(enum.StrEnum):
    PURCHASE_CREDIT = "purchase_credit"
    CONSUMPTION = "consumption"
    CONSUMPTION_REVERSAL = "consumption_reversal"
    EXPIRY = "expiry"
    REFUND_REVERSAL = "refund_reversal"
    ADJUSTMENT = "adjustment"
    DISPUTE_HOLD = "dispute_hold"
    DISPUTE_RELEASE = "dispute_release"
    # Records without minutes: a new expiry date, a lost dispute's held minutes voided, a
    # cancelled session's minutes that stay used (their lot had expired or was lost), a
    # dispute opened over the lot's payment and one closed in the student's favour (whether
    # or not it held minutes: these records, not the minutes, say a dispute is open).
    EXPIRY_EXTENSION = "expiry_extension"
    DISPUTE_LOSS = "dispute_loss"
    CANCELLATION_UNRETURNED = "cancellation_unreturned"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_WON = "dispute_won"
    # A subscription month's unused minutes carried into the next month's lot (plans with
    # rollover_unused): out of the old lot, into the new one, under one invoice's keys.
    ROLLOVER_OUT = "rollover_out"
    ROLLOVER_IN = "rollover_in"
    # A bank payment still clearing (SEPA Direct Debit and other delayed methods): its
    # minutes are pending on the purchase's lot, in `pending_minutes` (never `minutes`, so
    # they are no part of any available balance), until the payment succeeds (cleared,
    # then its purchase_credit) or fails (removed).
    PENDING_CREDIT = "pending_credit"
    PENDING_CLEARED = "pending_cleared"
    PENDING_REMOVED = "pending_removed"


_KINDS = ", ".join(f"'{k.value}'" for k in EntryKind)
# Partial indexes' conditions; queries that should use them repeat them exactly.
OPEN_LOT = "minutes_remaining > 0 OR minutes_on_hold > 0"
NOT_SESSION_MOVEMENT = "kind NOT IN ('consumption', 'consumption_reversal')"
RECORD_KINDS = (EntryKind.EXPIRY_EXTENSION.value, EntryKind.DISPUTE_LOSS.value,
                EntryKind.CANCELLATION_UNRETURNED.value, EntryKind.DISPUTE_OPENED.value,
                EntryKind.DISPUTE_WON.value)
PENDING_KINDS = (EntryKind.PENDING_CREDIT.value, EntryKind.PENDING_CLEARED.value,
                 EntryKind.PENDING_REMOVED.value)
_PENDING = ", ".join(f"'{k}'" for k in PENDING_KINDS)
# Entries written for a tutoring session carry its reference in `session_ref`: its
# consumption, and what its cancellation wrote (reversal, refunded share, hold, unreturned).
SESSION_KINDS = (EntryKind.CONSUMPTION.value, EntryKind.CONSUMPTION_REVERSAL.value,
                 EntryKind.REFUND_REVERSAL.value, EntryKind.DISPUTE_HOLD.value,
                 EntryKind.CANCELLATION_UNRETURNED.value)


class Lot(db.Model):
    """Minutes granted by one paid purchase, usable until expires_at."""

    __tablename__ = "lots"
    __table_args__ = (
        CheckConstraint("minutes_granted > 0", name="granted_positive"),
        CheckConstraint(
            "minutes_remaining >= 0 AND minutes_remaining <= minutes_granted",
            name="remaining_within_grant",
        ),
        CheckConstraint(
            "minutes_on_hold >= 0 AND minutes_remaining + minutes_on_hold <= minutes_granted",
            name="hold_within_grant",
        ),
        # Pending minutes are the whole grant of a lot nothing was drawn from yet.
        CheckConstraint(
            "minutes_pending = 0 OR (minutes_pending = minutes_granted"
            " AND minutes_remaining = 0 AND minutes_on_hold = 0)",
            name="pending_whole_and_unspent",
        ),
        CheckConstraint("minutes_pending >= 0", name="pending_nonnegative"),
        # The latest expired lots of a student (dashboard, balance summary).
        Index("ix_lots_student_expires", "student_id", "expires_at", "id"),
        # Lots with minutes left or held: a student's few open lots among their many used ones
        # (balance reads, booking checks, consumption's soonest-expiring lot).
        Index("ix_lots_student_open", "student_id", "expires_at",
              postgresql_where=text(OPEN_LOT), sqlite_where=text(OPEN_LOT)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), unique=True)
    minutes_granted: Mapped[int] = mapped_column(Integer)
    minutes_remaining: Mapped[int] = mapped_column(Integer)
    # Held by an open dispute: not consumable, not part of the available balance.
    minutes_on_hold: Mapped[int] = mapped_column(Integer, default=0)
    # (Server defaults alone: the credit's INSERT … SELECT lists its columns, and a Python
    # default would be added to it as a parameter, which PostgreSQL's CTE form cannot take.)
    # A bank payment still clearing: not consumable, not available, never expiring (the
    # lot has no expiry until the payment succeeds), not refundable as hours.
    minutes_pending: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    purchase: Mapped[Purchase] = relationship()


class LedgerEntry(db.Model):
    """One signed movement of minutes; a retry of the same operation hits the UNIQUE key."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_KINDS})", name="kind"),
        CheckConstraint(
            f"minutes <> 0 OR kind IN ({', '.join(repr(k) for k in RECORD_KINDS)}, {_PENDING})",
            name="minutes_nonzero",
        ),
        # Pending minutes move only in the pending kinds' entries, and only they.
        CheckConstraint(f"(kind IN ({_PENDING})) = (pending_minutes <> 0 AND minutes = 0)",
                        name="pending_kinds"),
        CheckConstraint("kind <> 'purchase_credit' OR minutes > 0", name="credit_positive"),
        Index("ix_ledger_entries_student_session", "student_id", "session_ref"),
        # A student's entries newest first, a page at a time (staff ledger).
        Index("ix_ledger_entries_student_entry", "student_id", "id"),
        # A student's latest entries of one kind (the dashboard's latest sessions), read from
        # the index alone: without it PostgreSQL walks the whole table's primary key backwards
        # for a student with many sessions among many other students' entries.
        Index("ix_ledger_entries_student_kind_entry", "student_id", "kind", "id",
              postgresql_include=["session_ref"]),
        # Every entry but the sessions' (credits, expiries, refunds, holds, …): a few per lot,
        # so a student's totals and each lot's used minutes are read without their sessions.
        Index("ix_ledger_entries_student_movements", "student_id", "lot_id", "kind", "minutes",
              postgresql_where=text(NOT_SESSION_MOVEMENT),
              sqlite_where=text(NOT_SESSION_MOVEMENT)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    minutes: Mapped[int] = mapped_column(Integer)
    # Signed minutes of a payment still clearing (PENDING_KINDS only; 0 for every other).
    pending_minutes: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    reference: Mapped[str] = mapped_column(String(255), index=True)
    # The tutoring session this entry belongs to (see SESSION_KINDS), matched exactly.
    session_ref: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    lot: Mapped[Lot | None] = relationship()


class ExpiryNotice(db.Model):
    """An "hours expire soon" email sent for one lot and one warning window (sent once)."""

    __tablename__ = "expiry_notices"
    __table_args__ = (UniqueConstraint("lot_id", "window_days"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    window_days: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Balance(db.Model):
    """The student's available minutes: the sum of their entries, kept under a row lock."""

    __tablename__ = "balances"
    __table_args__ = (CheckConstraint("available_minutes >= 0", name="available_nonnegative"),
                      CheckConstraint("pending_minutes >= 0", name="pending_nonnegative"))

    student_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    available_minutes: Mapped[int] = mapped_column(Integer, default=0)
    # Minutes of bank payments still clearing: shown, never available (sum of the entries'
    # pending_minutes).
    pending_minutes: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
