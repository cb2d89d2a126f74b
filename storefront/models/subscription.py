"""Subscriptions: a student's monthly plan at Stripe Billing, as Stripe last told us."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storefront.extensions import db
from storefront.models.base import UTCDateTime, utcnow
from storefront.models.catalog import PricingPlan
from storefront.models.user import User

SUBSCRIPTION_STATUSES = ("incomplete", "incomplete_expired", "trialing", "active",
                         "past_due", "canceled", "unpaid", "paused")
# Stripe never brings a subscription back from these.
TERMINAL_STATUSES = frozenset({"canceled", "incomplete_expired"})

_STATUSES = ", ".join(f"'{s}'" for s in SUBSCRIPTION_STATUSES)


def status_rank(status: str) -> int:
    """Orders two states Stripe reported in the same second: an ending wins, and incomplete
    (a subscription's first state, never returned to) loses."""
    if status in TERMINAL_STATUSES:
        return 3
    return 1 if status == "incomplete" else 2


class Subscription(db.Model):
    """One Stripe Subscription of a student to a subscription plan."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("pricing_plans.id"))
    status: Mapped[str] = mapped_column(String(30))
    current_period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When Stripe produced the state we hold (its event's `created`, Unix seconds) and the
    # rank of that state: an update older than this, by Stripe's clock, is stale.
    state_created: Mapped[int] = mapped_column(BigInteger, default=0)
    state_rank: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    student: Mapped[User] = relationship()
    plan: Mapped[PricingPlan] = relationship()

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def __repr__(self) -> str:
        return f"<Subscription {self.id} {self.status} {self.stripe_subscription_id}>"
