"""A student's monthly subscription as they see it: plan, status, period, next payment, and the
hours of the period they are in. One service for the dashboard panel and the balance API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from storefront.catalog.prices import price_in, subscription_currency
from storefront.errors import ValidationError
from storefront.extensions import db
from storefront.models import Lot, PricingPlan, Purchase, User
from storefront.models.subscription import TERMINAL_STATUSES, Subscription

# Stripe's statuses in the student's words.
STATUS_WORDS = {
    "active": "Active",
    "trialing": "Trial",
    "past_due": "Payment failed: update your card",
    "unpaid": "Unpaid: update your card",
    "incomplete": "Waiting for the first payment",
    "incomplete_expired": "First payment not completed",
    "canceled": "Ended",
    "paused": "Paused",
}
# Statuses in which the subscription gives hours and renews.
ACTIVE_STATUSES = frozenset({"active", "trialing"})
# Statuses in which the student can still change it (cancel, undo, switch, update the card).
MANAGEABLE_STATUSES = frozenset({"active", "trialing", "past_due", "unpaid"})
# Statuses in which a payment is owed and a new card can settle it.
PAYMENT_DUE_STATUSES = frozenset({"past_due", "unpaid"})


@dataclass(frozen=True)
class SubscriptionView:
    """What the dashboard and the balance API show of a subscription."""

    subscription: Subscription
    plan: PricingPlan
    period_plan_name: str | None  # the plan the current period was paid for
    minutes_credited: int | None  # this period's hours, when paid
    minutes_left: int | None
    # The monthly price in the subscription's own currency (its months' currency).
    price_minor: int = 0
    currency: str = "eur"

    @property
    def status(self) -> str:
        return self.subscription.status

    @property
    def status_words(self) -> str:
        return STATUS_WORDS.get(self.status, self.status.replace("_", " ").capitalize())

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_manageable(self) -> bool:
        return self.status in MANAGEABLE_STATUSES

    @property
    def payment_due(self) -> bool:
        return self.status in PAYMENT_DUE_STATUSES

    @property
    def cancel_at_period_end(self) -> bool:
        return self.subscription.cancel_at_period_end

    @property
    def current_period_start(self) -> datetime | None:
        return self.subscription.current_period_start

    @property
    def current_period_end(self) -> datetime | None:
        return self.subscription.current_period_end

    @property
    def next_payment_at(self) -> datetime | None:
        """When Stripe charges next: the period's end, unless it is cancelled or over."""
        if not self.is_manageable or self.cancel_at_period_end:
            return None
        return self.current_period_end

    @property
    def access_ends_at(self) -> datetime | None:
        """When a subscription cancelled at period end stops."""
        if self.status in TERMINAL_STATUSES:
            return self.subscription.ended_at
        return self.current_period_end if self.cancel_at_period_end else None

    @property
    def plan_changes_next_period(self) -> bool:
        return self.period_plan_name is not None and self.period_plan_name != self.plan.name


def _latest(student: User) -> Subscription | None:
    """The student's live subscription, or else the one that ended last."""
    rows = db.session.scalars(
        select(Subscription).where(Subscription.student_id == student.id)
        .order_by(Subscription.id.desc())).all()
    live = [row for row in rows if row.status not in TERMINAL_STATUSES]
    return (live or rows or [None])[0]


def subscription_view(student: User) -> SubscriptionView | None:
    """The subscription the student sees, with the hours of its latest paid period."""
    subscription = _latest(student)
    if subscription is None:
        return None
    paid = db.session.execute(
        select(Purchase, Lot).join(Lot, Lot.purchase_id == Purchase.id)
        .where(Purchase.subscription_id == subscription.id)
        .order_by(Purchase.period_end.desc(), Purchase.id.desc()).limit(1)).first()
    current = None
    if paid is not None and (subscription.current_period_end is None
                             or paid[0].period_end is None
                             or paid[0].period_end >= subscription.current_period_end):
        current = paid
    currency = subscription_currency(subscription)
    try:
        price_minor = price_in(subscription.plan, currency).amount_minor
    except ValidationError:  # the plan lost its price in that currency since
        price_minor, currency = subscription.plan.price_minor, subscription.plan.currency
    return SubscriptionView(
        subscription=subscription, plan=subscription.plan,
        price_minor=price_minor, currency=currency,
        period_plan_name=current[0].plan_name if current else None,
        minutes_credited=current[1].minutes_granted if current else None,
        minutes_left=current[1].minutes_remaining if current else None,
    )
