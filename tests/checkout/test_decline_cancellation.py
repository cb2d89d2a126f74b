"""Card testing with real Stripe.js: the payer confirms straight at Stripe, past our routes, so
past the decline limit the PaymentIntent itself is cancelled at Stripe and the purchase with it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe

from storefront.extensions import db
from storefront.models import PaymentDecline, Purchase
from tests.checkout.test_card_testing import (
    ATTACKER_IP,
    OTHER_IP,
    browser,
    credited,
    initiate,
    limited_app,  # noqa: F401  (fixture)
    plan_id,  # noqa: F401  (fixture)
)
from tests.support import deliver, pay


def declined_at_stripe(app, emulator, intent_id: str, card: str = "pm_card_visa_chargeDeclined"):
    """A decline paid straight at Stripe, reported by Stripe's webhook."""
    declined = pay(emulator, intent_id, card)
    assert declined["status"] == "requires_payment_method"
    assert deliver(app.test_client(), "payment_intent.payment_failed", declined
                   ).status_code == 200


def status_of(app, purchase_id: int) -> str:
    with app.app_context():
        return db.session.get(Purchase, purchase_id).status


def at_stripe(emulator, intent_id: str) -> str:
    return emulator.client().v1.payment_intents.retrieve(intent_id).status


def test_past_the_limit_the_payment_intent_cannot_be_confirmed_at_stripe(
        limited_app, plan_id, stripe_emulator):  # noqa: F811
    buyer = browser(limited_app, ATTACKER_IP)
    started = initiate(buyer, plan_id, "tester@example.com").get_json()
    intent_id, secret = started["payment_intent_id"], started["client_secret"]
    for _ in range(3):
        declined_at_stripe(limited_app, stripe_emulator, intent_id)

    # Whoever holds the client secret can no longer confirm with Stripe directly.
    with pytest.raises(stripe.InvalidRequestError):
        pay(stripe_emulator, intent_id, "pm_card_visa")
    assert at_stripe(stripe_emulator, intent_id) == "canceled"
    assert credited(limited_app) == 0
    assert status_of(limited_app, started["transaction_id"]) == "cancelled"
    page = buyer.get(f"/checkout/complete?payment_intent={intent_id}"
                     f"&payment_intent_client_secret={secret}")
    assert "Payment cancelled" in page.get_data(as_text=True)
    assert 'data-purchase-status="cancelled"' in page.get_data(as_text=True)

    # Once the window has passed, the student starts a new purchase and pays it.
    with limited_app.app_context():
        for decline in db.session.scalars(db.select(PaymentDecline)):
            decline.declined_at -= timedelta(minutes=61)
        db.session.commit()
    again = initiate(buyer, plan_id, "tester@example.com")
    assert again.status_code == 201
    fresh = again.get_json()
    assert fresh["transaction_id"] != started["transaction_id"]
    paid = pay(stripe_emulator, fresh["payment_intent_id"], "pm_card_visa")
    assert deliver(limited_app.test_client(), "payment_intent.succeeded", paid
                   ).status_code == 200
    assert credited(limited_app) > 0


def test_an_address_past_the_limit_loses_its_other_pending_payments(
        limited_app, plan_id, stripe_emulator):  # noqa: F811
    attacker = [browser(limited_app, ATTACKER_IP) for _ in range(4)]
    tried = [initiate(client, plan_id, f"card{n}@example.com").get_json()
             for n, client in enumerate(attacker)]
    elsewhere = initiate(browser(limited_app, OTHER_IP), plan_id, "owner@example.com").get_json()
    for started in tried[:3]:  # one decline each: the address reaches the limit, no purchase does
        declined_at_stripe(limited_app, stripe_emulator, started["payment_intent_id"])

    for started in tried:  # the untried one too: it was started from the same address
        assert at_stripe(stripe_emulator, started["payment_intent_id"]) == "canceled"
        assert status_of(limited_app, started["transaction_id"]) == "cancelled"
    with pytest.raises(stripe.InvalidRequestError):
        pay(stripe_emulator, tried[3]["payment_intent_id"], "pm_card_visa")
    # Someone else, elsewhere, pays as usual.
    assert at_stripe(stripe_emulator, elsewhere["payment_intent_id"]) == "requires_payment_method"
    assert pay(stripe_emulator, elsewhere["payment_intent_id"])["status"] == "succeeded"
