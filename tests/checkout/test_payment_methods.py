"""Which payment methods a PaymentIntent offers: by default whatever the business enabled in
its Stripe dashboard for the currency (`automatic_payment_methods`), or exactly the list in
STRIPE_PAYMENT_METHOD_TYPES. Real Stripe is a local Stripe-shaped stub that records what
the storefront sent; the emulator keeps taking cards either way."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from storefront.config import load_config
from tests.support import pay, start_purchase

REAL_TEST_KEYS = {"STRIPE_SECRET_KEY": "sk_test_51RealLookingSecretKey",
                  "STRIPE_PUBLISHABLE_KEY": "pk_test_51RealLookingPublishableKey"}
CREATED = {"id": "pi_3RealLooking", "object": "payment_intent",
           "status": "requires_payment_method", "amount": 7500, "currency": "eur",
           "client_secret": "pi_3RealLooking_secret_abc", "livemode": False, "metadata": {}}


def created_with(stub) -> dict[str, str]:
    """The form parameters of the one PaymentIntent creation the stub received."""
    [body] = [body for request, _, body in stub.sent if request == "POST /v1/payment_intents"]
    return dict(parse_qsl(body.decode()))


@pytest.fixture
def real_stripe(stripe_stub):
    stripe_stub.respond_at("/v1/payment_intents", 200, CREATED)
    return stripe_stub


def test_with_real_keys_the_payment_intent_offers_the_dashboards_methods(
        make_app, real_stripe, seeded_with):
    app = make_app(STRIPE_API_BASE=real_stripe.base_url, **REAL_TEST_KEYS)
    plan_id = seeded_with(app)
    started = start_purchase(app.test_client(), plan_id)
    sent = created_with(real_stripe)
    assert sent == {
        "amount": "7500", "currency": "eur",
        "automatic_payment_methods[enabled]": "true",
        "metadata[purchase_id]": str(started["transaction_id"]),
        "metadata[student_id]": sent["metadata[student_id]"],
        "metadata[plan_id]": str(plan_id),
    }
    assert not any(key.startswith("payment_method_types") for key in sent)
    assert started["payment_intent_id"] == "pi_3RealLooking"


def test_a_configured_list_of_methods_is_sent_instead(make_app, real_stripe, seeded_with):
    app = make_app(STRIPE_API_BASE=real_stripe.base_url,
                   STRIPE_PAYMENT_METHOD_TYPES=["card", "sepa_debit"], **REAL_TEST_KEYS)
    start_purchase(app.test_client(), seeded_with(app))
    sent = created_with(real_stripe)
    assert (sent["payment_method_types[0]"], sent["payment_method_types[1]"]) == (
        "card", "sepa_debit")
    assert not any(key.startswith("automatic_payment_methods") for key in sent)


def test_the_methods_are_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("STRIPE_PAYMENT_METHOD_TYPES", raising=False)
    assert load_config("development")["STRIPE_PAYMENT_METHOD_TYPES"] is None
    monkeypatch.setenv("STRIPE_PAYMENT_METHOD_TYPES", " card, sepa_debit ,ideal")
    assert load_config("production")["STRIPE_PAYMENT_METHOD_TYPES"] == [
        "card", "sepa_debit", "ideal"]


def test_the_emulator_takes_cards_for_automatic_payment_methods(client, seeded,
                                                                stripe_emulator):
    started = start_purchase(client, seeded["Basic Package"])
    intent = stripe_emulator.client().v1.payment_intents.retrieve(
        started["payment_intent_id"]).to_dict()
    assert intent["automatic_payment_methods"] == {"enabled": True}
    assert intent["payment_method_types"] == ["card"]
    assert pay(stripe_emulator, intent["id"])["status"] == "succeeded"
