"""Pricing plans: what a student can buy."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storefront.extensions import db
from storefront.models.base import UTCDateTime, utcnow
from storefront.money import CURRENCIES, check_constraint_sql

MIN_PRICE_MINOR = 50
MAX_PRICE_MINOR = 1_000_000
# A package is valid for at most ten years: a longer validity is a typing mistake, and a date
# that far out is where date arithmetic starts to overflow.
MAX_VALIDITY_DAYS = 3650


class PlanType(enum.StrEnum):
    PACKAGE = "package"
    SUBSCRIPTION = "subscription"

    @property
    def display(self) -> str:
        return self.value.capitalize()


class PricingPlan(db.Model):
    """A package of hours valid for some days, or a monthly subscription of hours."""

    __tablename__ = "pricing_plans"
    __table_args__ = (
        CheckConstraint("plan_type IN ('package', 'subscription')", name="plan_type"),
        CheckConstraint("minutes_included > 0", name="minutes_positive"),
        CheckConstraint(
            f"price_minor >= {MIN_PRICE_MINOR} AND price_minor <= {MAX_PRICE_MINOR}",
            name="price_range",
        ),
        CheckConstraint(
            "(plan_type = 'package' AND validity_days IS NOT NULL AND validity_days >= 1"
            f" AND validity_days <= {MAX_VALIDITY_DAYS})"
            " OR (plan_type = 'subscription' AND validity_days IS NULL)",
            name="validity_by_type",
        ),
        CheckConstraint("length(currency) = 3 AND currency = lower(currency)", name="currency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    plan_type: Mapped[str] = mapped_column(String(20))
    minutes_included: Mapped[int] = mapped_column(Integer)
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="eur")
    validity_days: Mapped[int | None] = mapped_column(Integer)
    display_order: Mapped[int] = mapped_column(Integer, default=0)
    is_featured: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A subscription plan may carry a paid month's unused minutes into the next month.
    rollover_unused: Mapped[bool] = mapped_column(Boolean, default=False,
                                                  server_default=false())
    # price_minor, currency and stripe_price_id are the plan's price in euros, which every
    # plan has; its row in plan_prices mirrors them (storefront/catalog/prices.py).
    # A subscription plan's Stripe Product and its current monthly Price in euros (flask
    # stripe sync-plans keeps them in step with name, price_minor and currency).
    stripe_product_id: Mapped[str | None] = mapped_column(String(255))
    stripe_price_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    prices: Mapped[list[PlanPrice]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="PlanPrice.id")

    @property
    def type(self) -> PlanType:
        return PlanType(self.plan_type)

    @property
    def is_package(self) -> bool:
        return self.type is PlanType.PACKAGE

    def __repr__(self) -> str:
        return f"<PricingPlan {self.id} {self.name}>"


_CURRENCY_CODES = ", ".join(f"'{code}'" for code in CURRENCIES)


class PlanPrice(db.Model):
    """A plan's price in one currency: euros always (mirroring the plan's own price), and
    any of the other currencies staff add. A subscription plan's monthly Stripe Price in
    that currency, once `flask stripe sync-plans` has made it."""

    __tablename__ = "plan_prices"
    __table_args__ = (
        UniqueConstraint("plan_id", "currency"),
        CheckConstraint(f"currency IN ({_CURRENCY_CODES})", name="currency"),
        # Stripe's minimum charge and our maximum, in each currency's own minor units.
        CheckConstraint(check_constraint_sql("amount_minor", "currency"), name="amount_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("pricing_plans.id", ondelete="CASCADE"))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(Integer)
    stripe_price_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    plan: Mapped[PricingPlan] = relationship(back_populates="prices")

    def __repr__(self) -> str:
        return f"<PlanPrice {self.plan_id} {self.amount_minor} {self.currency}>"
