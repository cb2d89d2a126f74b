"""Purchases: one attempt by a student to buy one plan, with a snapshot of the plan."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storefront.extensions import db
from storefront.models.base import UTCDateTime, utcnow
from storefront.models.catalog import PricingPlan
from storefront.models.user import User


class PurchaseStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


# Where each status may go next. A purchase never moves backwards: a late
# payment_failed or processing event cannot undo a completed purchase. A failed
# attempt may still succeed, since the student can retry with the same PaymentIntent.
ALLOWED_TRANSITIONS: dict[PurchaseStatus, frozenset[PurchaseStatus]] = {
    PurchaseStatus.PENDING: frozenset(
        {PurchaseStatus.PROCESSING, PurchaseStatus.COMPLETED, PurchaseStatus.FAILED,
         PurchaseStatus.CANCELLED}
    ),
    PurchaseStatus.PROCESSING: frozenset(
        {PurchaseStatus.COMPLETED, PurchaseStatus.FAILED, PurchaseStatus.CANCELLED}
    ),
    PurchaseStatus.FAILED: frozenset(
        {PurchaseStatus.PROCESSING, PurchaseStatus.COMPLETED, PurchaseStatus.CANCELLED}
    ),
    PurchaseStatus.COMPLETED: frozenset(
        {PurchaseStatus.PARTIALLY_REFUNDED, PurchaseStatus.REFUNDED}
    ),
    PurchaseStatus.PARTIALLY_REFUNDED: frozenset({PurchaseStatus.REFUNDED}),
    PurchaseStatus.REFUNDED: frozenset(),
    PurchaseStatus.CANCELLED: frozenset(),
}
PAID_STATUSES = frozenset(
    {PurchaseStatus.COMPLETED, PurchaseStatus.PARTIALLY_REFUNDED, PurchaseStatus.REFUNDED}
)

_STATUSES = ", ".join(f"'{s.value}'" for s in PurchaseStatus)


class Purchase(db.Model):
    """A student's purchase of a plan, priced and described as the plan was at that moment."""

    __tablename__ = "purchases"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        # A subscription's free month (trial, 100% coupon) is the only purchase of price 0.
        CheckConstraint("price_minor > 0 OR (price_minor = 0 AND stripe_invoice_id IS NOT NULL)",
                        name="price_positive_or_free_month"),
        CheckConstraint("minutes > 0", name="minutes_positive"),
        CheckConstraint(
            "status NOT IN ('completed', 'partially_refunded', 'refunded') OR paid_at IS NOT NULL",
            name="paid_when_completed",
        ),
        CheckConstraint("refunded_minor >= 0 AND refunded_minor <= price_minor",
                        name="refund_within_price"),
        Index("ix_purchases_student_plan_status", "student_id", "plan_id", "status"),
        # A student's purchase history, newest first, a page at a time.
        Index("ix_purchases_student_created", "student_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("pricing_plans.id"))
    plan_name: Mapped[str] = mapped_column(String(100))
    plan_type: Mapped[str] = mapped_column(String(20))
    minutes: Mapped[int] = mapped_column(Integer)
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    validity_days: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=PurchaseStatus.PENDING.value)
    # Random per attempt: the idempotency key of the PaymentIntent creation (ids can be reused).
    attempt_key: Mapped[str] = mapped_column(String(64), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Which browser started it: a hash of the random checkout key in that browser's session.
    # Only that browser gets the pending purchase back (never a stranger typing the email).
    started_by: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    refunded_minor: Mapped[int] = mapped_column(Integer, default=0)
    # The open or last dispute's status at Stripe (needs_response, won, lost, …), if any.
    dispute_status: Mapped[str | None] = mapped_column(String(40))
    # The address the purchase was started from, so declines Stripe reports later (webhooks
    # carry no buyer IP) count against it.
    client_ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A subscription's month: the invoice that paid it and the billing period it covers.
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"),
                                                        index=True)
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())

    student: Mapped[User] = relationship()
    plan: Mapped[PricingPlan] = relationship()

    @property
    def state(self) -> PurchaseStatus:
        return PurchaseStatus(self.status)

    @property
    def is_paid(self) -> bool:
        return self.state in PAID_STATUSES

    def can_move_to(self, new: PurchaseStatus) -> bool:
        """Whether the status may change to `new` (staying put is never a move)."""
        return new in ALLOWED_TRANSITIONS[self.state]

    def __repr__(self) -> str:
        return f"<Purchase {self.id} {self.status} {self.payment_intent_id}>"
