"""flask stripe sync-plans: a Product and a monthly Price per subscription plan, kept in step."""

from __future__ import annotations

from storefront.extensions import db
from storefront.models import PricingPlan

SUBSCRIPTIONS = ("Monthly Unlimited", "Student Subscription", "Family Subscription")


def _stored(app, seeded) -> dict[str, tuple[str | None, str | None]]:
    with app.app_context():
        return {name: (plan.stripe_product_id, plan.stripe_price_id)
                for name in SUBSCRIPTIONS
                for plan in [db.session.get(PricingPlan, seeded[name])]}


def test_sync_plans_creates_a_product_and_a_monthly_price_per_subscription_plan(
        app, runner, seeded, stripe_emulator):
    result = runner.invoke(args=["stripe", "sync-plans"])

    assert result.exit_code == 0, result.output
    stripe = stripe_emulator.client()
    products = stripe.v1.products.list(params={"limit": 100}).data
    assert sorted(p.name for p in products) == sorted(SUBSCRIPTIONS)
    prices = stripe.v1.prices.list(params={"limit": 100}).data
    assert len(prices) == 3
    stored = _stored(app, seeded)
    with app.app_context():
        for name in SUBSCRIPTIONS:
            plan = db.session.get(PricingPlan, seeded[name])
            price = stripe.v1.prices.retrieve(plan.stripe_price_id)
            assert (price.unit_amount, price.currency, price.recurring.interval) == (
                plan.price_minor, plan.currency, "month")
            assert price.product == stored[name][0] and price.active
            assert stripe.v1.products.retrieve(price.product).name == name
    with app.app_context():  # packages have no Stripe objects
        package = db.session.get(PricingPlan, seeded["Basic Package"])
        assert package.stripe_product_id is None and package.stripe_price_id is None
    assert result.output.count("created product") == 3
    assert result.output.count("created price") == 3


def test_a_second_sync_changes_nothing_and_says_so(app, runner, seeded, stripe_emulator):
    runner.invoke(args=["stripe", "sync-plans"])
    before = _stored(app, seeded)

    again = runner.invoke(args=["stripe", "sync-plans"])

    assert again.exit_code == 0, again.output
    assert "nothing changed" in again.output and "created" not in again.output
    assert _stored(app, seeded) == before
    stripe = stripe_emulator.client()
    assert len(stripe.v1.products.list(params={"limit": 100}).data) == 3
    assert len(stripe.v1.prices.list(params={"limit": 100}).data) == 3


def test_a_changed_amount_gets_a_new_price_and_the_old_one_is_deactivated(
        app, runner, seeded, stripe_emulator):
    runner.invoke(args=["stripe", "sync-plans"])
    product_id, old_price_id = _stored(app, seeded)["Student Subscription"]
    with app.app_context():
        db.session.get(PricingPlan, seeded["Student Subscription"]).price_minor = 12900
        db.session.commit()

    result = runner.invoke(args=["stripe", "sync-plans"])

    assert result.exit_code == 0, result.output
    new_product_id, new_price_id = _stored(app, seeded)["Student Subscription"]
    assert new_product_id == product_id and new_price_id != old_price_id
    stripe = stripe_emulator.client()
    new, old = stripe.v1.prices.retrieve(new_price_id), stripe.v1.prices.retrieve(old_price_id)
    assert (new.unit_amount, new.active, new.product) == (12900, True, product_id)
    assert (old.unit_amount, old.active) == (11900, False)
    active = stripe.v1.prices.list(params={"product": product_id, "active": True}).data
    assert [price.id for price in active] == [new_price_id]
    assert f"deactivated price {old_price_id}" in result.output
    assert "Monthly Unlimited" not in result.output  # the other plans did not change
    assert "nothing changed" in runner.invoke(args=["stripe", "sync-plans"]).output


def test_a_plan_whose_stripe_objects_are_gone_gets_new_ones(app, runner, seeded,
                                                            stripe_emulator):
    runner.invoke(args=["stripe", "sync-plans"])
    stripe_emulator.reset()  # e.g. another Stripe account, or the emulator started afresh

    result = runner.invoke(args=["stripe", "sync-plans"])

    assert result.exit_code == 0, result.output
    stripe = stripe_emulator.client()
    assert len(stripe.v1.products.list(params={"limit": 100}).data) == 3
    for _, price_id in _stored(app, seeded).values():
        assert stripe.v1.prices.retrieve(price_id).active
