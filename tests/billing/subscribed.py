"""A real subscription at the Stripe emulator, its first month paid, as our webhooks saw it."""

from __future__ import annotations

from storefront.billing.customers import customer_for
from storefront.billing.plans import sync_plan
from storefront.extensions import db
from storefront.models import PricingPlan, Purchase, Subscription, User
from tests.support import pay, wait_for


def subscribe(app, stripe_emulator, student_id: int, plan_id: int,
              card: str = "pm_card_visa") -> str:
    """Subscribe the student at the emulator (what checkout does), pay the first invoice with
    the card and wait for our webhook to credit it; the Stripe subscription id."""
    with app.app_context():
        plan = db.session.get(PricingPlan, plan_id)
        sync_plan(plan)
        customer = customer_for(db.session.get(User, student_id))
        price = plan.stripe_price_id
        db.session.commit()
    stripe = stripe_emulator.client()
    subscription = stripe.v1.subscriptions.create(params={
        "customer": customer, "items": [{"price": price}],
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "metadata": {"student_id": str(student_id), "plan_id": str(plan_id)},
        "expand": ["latest_invoice.payments"]})
    intent = subscription.latest_invoice.payments.data[0].payment.payment_intent
    pay(stripe_emulator, intent, card)
    wait_for(lambda: months(app, subscription.id) == 1 and state(app, subscription.id)[0]
             == "active")
    return subscription.id


def fail_next_renewal(app, stripe_emulator, sub_id: str) -> None:
    """Put a card that fails every charge (4000 0000 0000 0341) on the subscription and start
    its next period at the emulator; wait until our webhooks mark it past due."""
    stripe = stripe_emulator.client()
    customer = stripe.v1.subscriptions.retrieve(sub_id).customer
    failing = stripe.v1.payment_methods.attach("pm_card_chargeCustomerFail",
                                               params={"customer": customer})
    stripe.v1.subscriptions.update(sub_id, params={"default_payment_method": failing.id})
    result = app.test_cli_runner().invoke(args=["stripe", "renew", sub_id])
    assert result.exit_code == 0, result.output
    wait_for(lambda: state(app, sub_id)[0] == "past_due")


def months(app, sub_id: str) -> int:
    """How many months of the subscription we credited."""
    with app.app_context():
        return len(db.session.scalars(db.select(Purchase.id).join(
            Subscription, Purchase.subscription_id == Subscription.id).where(
            Subscription.stripe_subscription_id == sub_id)).all())


def state(app, sub_id: str) -> tuple | None:
    """Our row's status, period end and cancel_at_period_end."""
    with app.app_context():
        row = db.session.scalars(db.select(Subscription).where(
            Subscription.stripe_subscription_id == sub_id)).first()
        return row and (row.status, row.current_period_end, row.cancel_at_period_end)
