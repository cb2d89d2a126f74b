"""What `flask stripe reconcile` last found: each run, and what still disagreed with Stripe."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storefront.extensions import db
from storefront.models.base import UTCDateTime, utcnow
from storefront.models.purchase import Purchase


class ReconcileRun(db.Model):
    """One finished reconcile run: when, how far back, how many payments it checked."""

    __tablename__ = "reconcile_runs"
    __table_args__ = (CheckConstraint("checked >= 0", name="checked_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    checked: Mapped[int]
    findings: Mapped[list[ReconcileFinding]] = relationship(
        back_populates="run", order_by="ReconcileFinding.id", cascade="all, delete-orphan")


class ReconcileFinding(db.Model):
    """A payment a run could not bring into line with Stripe (a mismatch or a failure)."""

    __tablename__ = "reconcile_findings"
    __table_args__ = (CheckConstraint("kind IN ('mismatch', 'failure')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconcile_runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # mismatch | failure
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"))
    payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[str] = mapped_column(Text)

    run: Mapped[ReconcileRun] = relationship(back_populates="findings")
    purchase: Mapped[Purchase | None] = relationship()
