"""The development emulator speaks Stripe Billing's current dialect, through the real library."""

from __future__ import annotations

import pytest
import stripe


@pytest.fixture
def stripe_client(stripe_emulator):
    stripe_emulator.reset()
    return stripe_emulator.client()


def _monthly_price(client, amount=4900, **extra):
    product = client.v1.products.create(params={"name": "Monthly Unlimited"})
    price = client.v1.prices.create(params={
        "unit_amount": amount, "currency": "eur", "recurring": {"interval": "month"},
        "product": product.id, "metadata": {"plan_id": "7"}, **extra})
    return product, price


def test_prices_are_created_read_listed_and_deactivated(stripe_client):
    product, price = _monthly_price(stripe_client, lookup_key="plan-7")

    assert price.id.startswith("price_")
    assert (price.object, price.unit_amount, price.currency, price.product) == (
        "price", 4900, "eur", product.id)
    assert price.recurring.interval == "month" and price.type == "recurring"
    assert price.active is True and price.metadata.to_dict() == {"plan_id": "7"}
    assert stripe_client.v1.prices.retrieve(price.id).unit_amount == 4900

    updated = stripe_client.v1.prices.update(price.id, params={"active": False})
    assert updated.active is False
    listed = stripe_client.v1.prices.list(params={"product": product.id, "active": False})
    assert [p.id for p in listed.data] == [price.id]
    assert stripe_client.v1.prices.list(params={"product": product.id, "active": True}).data == []


def test_a_price_amount_cannot_change(stripe_client):
    _, price = _monthly_price(stripe_client)
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.prices.update(price.id, params={"unit_amount": 100})
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.v1.prices.retrieve("price_missing")
    assert missing.value.code == "resource_missing"


def test_default_incomplete_subscription_waits_for_the_payer_then_sends_invoice_paid(
        stripe_client):
    _, price = _monthly_price(stripe_client)
    customer = stripe_client.v1.customers.create(params={"email": "ada@example.com"})

    subscription = stripe_client.v1.subscriptions.create(params={
        "customer": customer.id, "items": [{"price": price.id}],
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "expand": ["latest_invoice.confirmation_secret", "latest_invoice.payments"],
    })

    assert subscription.status == "incomplete"
    assert subscription["items"].data[0].price.id == price.id
    item = subscription["items"].data[0]
    assert item.current_period_end > item.current_period_start
    invoice = subscription.latest_invoice
    assert invoice.status == "open" and invoice.amount_due == 4900
    secret = invoice.confirmation_secret
    assert secret.type == "payment_intent"
    intent_id = invoice.payments.data[0].payment.payment_intent
    intent = stripe_client.v1.payment_intents.retrieve(intent_id)
    assert intent.status == "requires_payment_method"
    assert intent.client_secret == secret.client_secret and intent.amount == 4900

    stripe_client.v1.payment_intents.update(intent_id, params={"payment_method": "pm_card_visa"})
    assert stripe_client.v1.payment_intents.confirm(intent_id).status == "succeeded"

    paid = stripe_client.v1.invoices.retrieve(invoice.id, params={"expand": ["payments"]})
    assert paid.status == "paid" and paid.payments.data[0].status == "paid"
    active = stripe_client.v1.subscriptions.retrieve(subscription.id)
    assert active.status == "active"
    assert active.default_payment_method.startswith("pm_")  # saved on the subscription
    events = stripe_client.v1.events.list(params={"limit": 100}).data
    kinds = [(event.type, event.data.object.id) for event in events]
    assert ("invoice.paid", invoice.id) in kinds
    assert ("invoice.payment_succeeded", invoice.id) in kinds
    assert ("customer.subscription.updated", subscription.id) in kinds


def test_a_declined_first_payment_leaves_the_subscription_incomplete(stripe_client):
    _, price = _monthly_price(stripe_client)
    customer = stripe_client.v1.customers.create(params={"email": "bo@example.com"})
    subscription = stripe_client.v1.subscriptions.create(params={
        "customer": customer.id, "items": [{"price": price.id}],
        "payment_behavior": "default_incomplete",
        "expand": ["latest_invoice.payments"]})
    intent_id = subscription.latest_invoice.payments.data[0].payment.payment_intent

    stripe_client.v1.payment_intents.update(
        intent_id, params={"payment_method": "pm_card_chargeCustomerFail"})
    with pytest.raises(stripe.CardError):
        stripe_client.v1.payment_intents.confirm(intent_id)

    assert stripe_client.v1.subscriptions.retrieve(subscription.id).status == "incomplete"
    events = stripe_client.v1.events.list(params={"limit": 100}).data
    assert "invoice.paid" not in {event.type for event in events}


def test_events_of_forgotten_objects_are_not_sent_after_a_reset(app, live_server,
                                                                 stripe_emulator):
    """A reset forgets the events the emulator had not sent yet: they would reach whichever
    app listens next, naming objects (and our ids) that no longer exist."""
    from storefront.extensions import db
    from storefront.models import WebhookEvent
    from tests.support import pay, wait_for

    client = stripe_emulator.client()
    before = client.v1.payment_intents.create(params={"amount": 1000, "currency": "eur"})
    pay(stripe_emulator, before.id)  # its events go out a second later
    stripe_emulator.reset()
    after = client.v1.payment_intents.create(params={"amount": 2000, "currency": "eur"})
    pay(stripe_emulator, after.id)

    def received(intent_id):
        with app.app_context():
            return db.session.scalar(db.select(db.func.count()).select_from(WebhookEvent)
                                     .where(WebhookEvent.payload.contains(intent_id)))

    wait_for(lambda: received(after.id) > 0)
    assert received(before.id) == 0
