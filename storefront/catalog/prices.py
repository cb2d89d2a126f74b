"""A plan's prices per currency (plan_prices): euros always, mirroring the plan's own
price_minor and stripe_price_id, which older code and clients read; the other currencies
as staff set them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from storefront.errors import ValidationError
from storefront.extensions import db
from storefront.models import PlanPrice, PricingPlan, Purchase, Subscription
from storefront.money import BASE_CURRENCY, CURRENCIES, EXTRA_CURRENCIES


@dataclass(frozen=True)
class PlanPriceChoice:
    """What a purchase of a plan costs in one currency, and its Stripe Price if a
    subscription plan's."""

    amount_minor: int
    currency: str
    stripe_price_id: str | None


def price_rows(plan: PricingPlan) -> dict[str, PlanPrice]:
    """The plan's price rows by currency."""
    return {row.currency: row for row in plan.prices}


def price_in(plan: PricingPlan, currency: str | None) -> PlanPriceChoice:
    """The plan's price in `currency` (euros when None); ValidationError on `currency` when
    the plan has no price in it."""
    code = (currency or BASE_CURRENCY).lower()
    if code == BASE_CURRENCY:
        return PlanPriceChoice(plan.price_minor, BASE_CURRENCY, plan.stripe_price_id)
    row = price_rows(plan).get(code) if code in CURRENCIES else None
    if row is None:
        raise ValidationError.for_fields({"currency": [
            f"This plan has no price in {code.upper()}."]})
    return PlanPriceChoice(row.amount_minor, row.currency, row.stripe_price_id)


def sellable_currencies(plan: PricingPlan) -> tuple[str, ...]:
    """The currencies the plan can be bought in here: every price of a package; a
    subscription plan's prices that have their Stripe Price (euros always listed)."""
    rows = price_rows(plan)
    return tuple(code for code in CURRENCIES if code == BASE_CURRENCY or (
        code in rows and (plan.is_package or rows[code].stripe_price_id)))


def subscription_currency(subscription: Subscription) -> str:
    """The currency a subscription bills in: its months' (Stripe keeps one per
    subscription); euros when none is recorded yet."""
    return db.session.scalars(
        select(Purchase.currency).where(Purchase.subscription_id == subscription.id)
        .order_by(Purchase.id.desc()).limit(1)).first() or BASE_CURRENCY


def set_extra_prices(plan: PricingPlan, amounts: dict[str, int | None]) -> None:
    """Add, change or remove the plan's prices in currencies other than euros (None
    removes). A changed amount forgets the Stripe Price of the old one. Flushes."""
    rows = price_rows(plan)
    for code in EXTRA_CURRENCIES:
        amount, row = amounts.get(code), rows.get(code)
        if amount is None:
            if row is not None:
                plan.prices.remove(row)
        elif row is None:
            plan.prices.append(PlanPrice(currency=code, amount_minor=amount))
        elif row.amount_minor != amount:
            row.amount_minor = amount
            row.stripe_price_id = None
    db.session.flush()


def _mirror_euro_price(session: Session, flush_context, instances) -> None:
    """Keep each plan's euro row equal to the plan's own price and Stripe Price."""
    with session.no_autoflush:
        for obj in (*session.new, *session.dirty):
            if not isinstance(obj, PricingPlan) or obj.price_minor is None:
                continue
            row = price_rows(obj).get(BASE_CURRENCY)
            if row is None:
                obj.prices.append(PlanPrice(currency=BASE_CURRENCY, amount_minor=obj.price_minor,
                                            stripe_price_id=obj.stripe_price_id))
            elif (row.amount_minor, row.stripe_price_id) != (obj.price_minor,
                                                               obj.stripe_price_id):
                row.amount_minor, row.stripe_price_id = obj.price_minor, obj.stripe_price_id


def watch_euro_prices() -> None:
    """Mirror every plan's euro price into plan_prices at each flush (idempotent)."""
    if not event.contains(Session, "before_flush", _mirror_euro_price):
        event.listen(Session, "before_flush", _mirror_euro_price)
