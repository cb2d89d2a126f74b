"""Keep each subscription plan's Stripe Product and its monthly Prices (one per currency the
plan is priced in; Prices are single-currency and immutable) in step with the plan."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from storefront.extensions import db
from storefront.models import PlanPrice, PricingPlan
from storefront.models.catalog import PlanType
from storefront.money import BASE_CURRENCY, CURRENCIES
from storefront.payments import gateway
from storefront.payments.errors import PaymentError


def _stored_price(price_id: str | None) -> gateway.PriceInfo | None:
    """The Price we stored, or None if there is none or Stripe no longer has it."""
    if not price_id:
        return None
    try:
        return gateway.retrieve_price(price_id)
    except PaymentError as error:
        if error.code == "resource_missing":
            return None
        raise


def _price_fits(price: gateway.PriceInfo | None, plan: PricingPlan, row: PlanPrice) -> bool:
    return (price is not None and price.active and price.interval == "month"
            and price.product_id == plan.stripe_product_id
            and price.unit_amount == row.amount_minor and price.currency == row.currency)


def _sync_price(plan: PricingPlan, row: PlanPrice) -> str | None:
    """Give the plan a monthly Price of this row's amount and currency if its stored one
    does not fit; what changed, or None."""
    if _price_fits(_stored_price(row.stripe_price_id), plan, row):
        return None
    previous = row.stripe_price_id or "none"
    price = gateway.create_monthly_price(
        product_id=plan.stripe_product_id, unit_amount=row.amount_minor,
        currency=row.currency, metadata={"plan_id": str(plan.id)},
        idempotency_key=(f"price-plan-{plan.id}-{row.currency}{row.amount_minor}"
                         f"-after-{previous}"))
    row.stripe_price_id = price.id
    if row.currency == BASE_CURRENCY:
        plan.stripe_price_id = price.id  # the plan's own, which its euro row mirrors
    return (f"{plan.name}: created price {price.id} "
            f"({row.amount_minor} {row.currency} a month)")


def sync_plan(plan: PricingPlan) -> list[str]:
    """Give one subscription plan its Product and a Price of its amount in each of its
    currencies; archive the plan's other active Prices (Prices are immutable). Returns what
    changed at Stripe (flushes)."""
    changes: list[str] = []
    plan = db.session.scalars(
        select(PricingPlan).where(PricingPlan.id == plan.id).with_for_update()
        .execution_options(populate_existing=True)).one()
    metadata = {"plan_id": str(plan.id)}
    if not plan.stripe_product_id or not gateway.product_exists(plan.stripe_product_id):
        plan.stripe_product_id = gateway.create_product(
            name=plan.name, metadata=metadata,
            idempotency_key=f"product-plan-{plan.id}-after-{plan.stripe_product_id or 'none'}")
        changes.append(f"{plan.name}: created product {plan.stripe_product_id}")
    db.session.flush()  # the euro row mirrors the plan's current price
    rows = sorted(plan.prices, key=lambda row: list(CURRENCIES).index(row.currency))
    for row in rows:
        if (change := _sync_price(plan, row)) is not None:
            changes.append(change)
    db.session.flush()
    current = {row.stripe_price_id for row in rows}
    for other in gateway.find_prices(plan.stripe_product_id, active=True):
        if other.id not in current:
            gateway.deactivate_price(other.id)
            changes.append(f"{plan.name}: deactivated price {other.id}")
    return changes


def sync_plans(checkpoint: Callable[[], None] | None = None) -> list[str]:
    """Sync every subscription plan with Stripe; `checkpoint` (a commit) runs after each plan
    so that what Stripe created is recorded even if a later plan fails. Returns the changes."""
    changes: list[str] = []
    plan_ids = db.session.scalars(
        select(PricingPlan.id).where(PricingPlan.plan_type == PlanType.SUBSCRIPTION.value)
        .order_by(PricingPlan.display_order, PricingPlan.id)).all()
    for plan_id in plan_ids:
        changes += sync_plan(db.session.get(PricingPlan, plan_id))
        if checkpoint is not None:
            checkpoint()
    return changes
