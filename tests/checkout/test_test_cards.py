"""Stripe's documented test cards behave as Stripe documents, end to end in test mode:
the test-mode confirm route, the PaymentIntent at the emulator, the complete page, the hours."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import stripe

from storefront.extensions import db
from storefront.ledger import verify_ledger
from storefront.models import LedgerEntry, Purchase, User
from tests.conftest import csrf_token

# number, Stripe's test PaymentMethod, decline_code (None = pays), message Stripe shows.
CARDS = [
    ("4242424242424242", "pm_card_visa", None, None),
    ("4000000000000002", "pm_card_visa_chargeDeclined", "generic_decline",
     "Your card was declined."),
    ("4000000000009995", "pm_card_visa_chargeDeclinedInsufficientFunds", "insufficient_funds",
     "Your card has insufficient funds."),
    ("4000000000009987", "pm_card_visa_chargeDeclinedLostCard", "lost_card",
     "Your card was declined."),
    ("4000000000000341", "pm_card_chargeCustomerFail", "generic_decline",
     "Your card was declined."),
]


def _credited_minutes(app, email: str) -> int:
    with app.app_context():
        assert verify_ledger() == []
        user = db.session.scalars(db.select(User).where(User.email == email)).one()
        return sum(db.session.scalars(
            db.select(LedgerEntry.minutes).where(LedgerEntry.student_id == user.id)))


def _start_and_open_pay_page(client, app, plan_id: int) -> tuple[str, str]:
    token = csrf_token(client, f"/checkout/{plan_id}")
    started = client.post(f"/checkout/{plan_id}", data={
        "csrf_token": token, "name": "Ana Silva", "email": "ana@example.com"})
    assert started.status_code == 302
    html = client.get(started.headers["Location"]).get_data(as_text=True)
    secret = re.search(r'data-client-secret="([^"]+)"', html).group(1)
    return secret.split("_secret_")[0], secret


def _spaced(number: str) -> str:
    return " ".join(number[i:i + 4] for i in range(0, 16, 4))


@pytest.mark.parametrize(("number", "payment_method", "decline_code", "message"), CARDS,
                         ids=[card[0][-4:] for card in CARDS])
def test_stripe_test_card_behaves_as_stripe_documents(app, client, seeded, stripe_emulator,
                                                      number, payment_method, decline_code,
                                                      message):
    intent_id, secret = _start_and_open_pay_page(client, app, seeded["Basic Package"])
    confirmed = client.post("/checkout/test-mode/confirm",
                            json={"client_secret": secret, "card_number": _spaced(number)},
                            headers={"X-CSRFToken": csrf_token(client)})
    assert confirmed.status_code == 200
    body = confirmed.get_json()
    at_stripe = stripe_emulator.client().v1.payment_intents.retrieve(intent_id).to_dict()
    complete = client.get(f"/checkout/complete?payment_intent={intent_id}"
                          f"&payment_intent_client_secret={secret}")
    html = complete.get_data(as_text=True)
    with app.app_context():
        purchase = db.session.scalars(db.select(Purchase)).one()

    if decline_code is None:
        assert body["paymentIntent"]["status"] == "succeeded"
        assert at_stripe["status"] == "succeeded"
        assert "Payment received" in html
        assert purchase.status == "completed"
        assert _credited_minutes(app, "ana@example.com") == 300
        return

    # Stripe.js's error shape, with Stripe's code, decline code and message.
    assert body == {"error": {"type": "card_error", "code": "card_declined",
                              "decline_code": decline_code, "message": message}}
    assert at_stripe["status"] == "requires_payment_method"
    assert at_stripe["last_payment_error"]["code"] == "card_declined"
    assert at_stripe["last_payment_error"]["decline_code"] == decline_code
    assert at_stripe["last_payment_error"]["message"] == message
    assert 'data-payment-status="requires_payment_method"' in html
    assert "Payment not completed" in html and message in html and "Try again" in html
    assert purchase.status == "failed"
    assert _credited_minutes(app, "ana@example.com") == 0


def test_decline_after_attach_card_attaches_to_a_customer_and_then_fails(stripe_emulator,
                                                                        app):
    """4000 0000 0000 0341: attaching succeeds, charging fails; 0002 is refused at attach."""
    client = stripe_emulator.client()
    customer = client.v1.customers.create()
    attached = client.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", params={"customer": customer.id})
    assert attached.customer == customer.id
    intent = client.v1.payment_intents.create(params={
        "amount": 7500, "currency": "eur", "customer": customer.id,
        "payment_method": attached.id, "payment_method_types": ["card"]})
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.confirm(intent.id)
    assert declined.value.code == "card_declined"
    with pytest.raises(stripe.CardError):
        client.v1.payment_methods.attach(
            "pm_card_visa_chargeDeclined", params={"customer": customer.id})


def test_the_stand_in_leaves_every_outcome_to_the_server():
    """The offline Stripe.js stand-in knows no test card numbers: the server decides."""
    script = (Path(__file__).parents[2] / "static/js/stripe-test-mode.js").read_text()
    for number, *_ in CARDS:
        assert number not in script and _spaced(number) not in script
        assert number[-4:] not in re.sub(r"1234", "", script)
