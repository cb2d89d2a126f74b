"""Subscription plans in several currencies: `flask stripe sync-plans` makes one monthly
Stripe Price per currency, a subscription starts on the Price of the currency asked for (once
synced), and its switch options stay in that currency."""

from __future__ import annotations

from storefront.billing.subscription_changes import switch_plans
from storefront.extensions import db
from storefront.models import PlanPrice, Purchase, Subscription
from tests.support import INITIATE_URL

PLAN = "Monthly Unlimited"  # 199.00 euros, 219.00 dollars, 32000 yen (tests/conftest.py)


def body(plan_id, currency):
    return {"plan_id": plan_id, "currency": currency,
            "student_info": {"name": "Ana Silva", "email": "ana@example.com"}}


def test_sync_plans_makes_a_monthly_price_per_currency(app, runner, priced, stripe_emulator):
    result = runner.invoke(args=["stripe", "sync-plans"])
    assert result.exit_code == 0, result.output
    stripe = stripe_emulator.client()
    with app.app_context():
        rows = db.session.scalars(db.select(PlanPrice).where(
            PlanPrice.plan_id == priced[PLAN]).order_by(PlanPrice.currency)).all()
        seen = {row.currency: stripe.v1.prices.retrieve(row.stripe_price_id) for row in rows}
    assert {code: (price.unit_amount, price.currency, price.recurring.interval, price.active)
            for code, price in seen.items()} == {
        "eur": (19900, "eur", "month", True), "usd": (21900, "usd", "month", True),
        "jpy": (32000, "jpy", "month", True)}
    assert len({price.product for price in seen.values()}) == 1
    assert len(stripe.v1.prices.list(params={"limit": 100}).data) == 5  # 3 plans + 2
    again = runner.invoke(args=["stripe", "sync-plans"])
    assert "created" not in again.output
    assert len(stripe.v1.prices.list(params={"limit": 100}).data) == 5


def test_a_changed_dollar_price_gets_a_new_stripe_price_and_the_old_is_archived(
        app, runner, priced, stripe_emulator):
    runner.invoke(args=["stripe", "sync-plans"])
    with app.app_context():
        row = db.session.scalars(db.select(PlanPrice).where(
            PlanPrice.plan_id == priced[PLAN], PlanPrice.currency == "usd")).one()
        old = row.stripe_price_id
        row.amount_minor, row.stripe_price_id = 22900, None  # as the staff form does
        db.session.commit()
    result = runner.invoke(args=["stripe", "sync-plans"])
    assert result.output.count("created price") == 1, result.output
    stripe = stripe_emulator.client()
    assert stripe.v1.prices.retrieve(old).active is False
    with app.app_context():
        new = db.session.scalars(db.select(PlanPrice.stripe_price_id).where(
            PlanPrice.plan_id == priced[PLAN], PlanPrice.currency == "usd")).one()
    assert stripe.v1.prices.retrieve(new).unit_amount == 22900


def test_a_subscription_starts_on_the_price_of_the_currency_asked_for(
        app, client, runner, priced, stripe_emulator):
    plan_id = priced[PLAN]
    unsynced = client.post(INITIATE_URL, json=body(plan_id, "usd"))
    assert unsynced.status_code == 503  # no Stripe Price in dollars yet
    runner.invoke(args=["stripe", "sync-plans"])
    response = client.post(INITIATE_URL, json=body(plan_id, "usd"))
    assert response.status_code == 201, response.get_data(as_text=True)
    data = response.get_json()
    stripe = stripe_emulator.client()
    intent = stripe.v1.payment_intents.retrieve(data["payment_intent_id"])
    assert (intent.amount, intent.currency) == (21900, "usd")
    subscription = stripe.v1.subscriptions.retrieve(data["subscription_id"])
    with app.app_context():
        usd_price = db.session.scalars(db.select(PlanPrice.stripe_price_id).where(
            PlanPrice.plan_id == plan_id, PlanPrice.currency == "usd")).one()
        purchase = db.session.get(Purchase, data["transaction_id"])
        assert (purchase.price_minor, purchase.currency) == (21900, "usd")
        assert subscription["items"].data[0].price.id == usd_price
        # Only plans priced (and synced) in dollars are offered to switch to: none here.
        ours = db.session.scalars(db.select(Subscription)).one()
        assert switch_plans(ours) == []
        euros = db.session.scalars(db.select(Subscription)).one()
        purchase.currency = "eur"  # had it been a euro subscription: the others in euros
        assert {option.name for option in switch_plans(euros)} == {
            "Student Subscription", "Family Subscription"}
        db.session.rollback()
