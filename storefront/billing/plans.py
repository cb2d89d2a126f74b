"""Keep each subscription plan's Stripe Product and monthly Price in step with the plan."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from storefront.extensions import db
from storefront.models import PricingPlan
from storefront.models.catalog import PlanType
from storefront.payments import gateway
from storefront.payments.errors import PaymentError


def _stored_price(plan: PricingPlan) -> gateway.PriceInfo | None:
    """The Price we stored for the plan, or None if there is none or Stripe no longer has it."""
    if not plan.stripe_price_id:
        return None
    try:
        return gateway.retrieve_price(plan.stripe_price_id)
    except PaymentError as error:
        if error.code == "resource_missing":
            return None
        raise


def _price_fits(price: gateway.PriceInfo | None, plan: PricingPlan) -> bool:
    return (price is not None and price.active and price.interval == "month"
            and price.product_id == plan.stripe_product_id
            and price.unit_amount == plan.price_minor and price.currency == plan.currency)


def sync_plan(plan: PricingPlan) -> list[str]:
    """Give one subscription plan its Product and a Price of its amount; archive the plan's
    other active Prices (Prices are immutable). Returns what changed at Stripe (flushes)."""
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
    stored = _stored_price(plan)
    if not _price_fits(stored, plan):
        previous = plan.stripe_price_id or "none"
        price = gateway.create_monthly_price(
            product_id=plan.stripe_product_id, unit_amount=plan.price_minor,
            currency=plan.currency, metadata=metadata,
            idempotency_key=(f"price-plan-{plan.id}-{plan.currency}{plan.price_minor}"
                             f"-after-{previous}"))
        plan.stripe_price_id = price.id
        changes.append(f"{plan.name}: created price {price.id} "
                       f"({plan.price_minor} {plan.currency} a month)")
    db.session.flush()
    for other in gateway.find_prices(plan.stripe_product_id, active=True):
        if other.id != plan.stripe_price_id:
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
