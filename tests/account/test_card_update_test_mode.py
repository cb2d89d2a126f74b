"""Offline, the card-update page saves a test card at the Stripe emulator through the
Stripe.js stand-in's confirmSetup route, as Stripe.js would with Stripe."""

from __future__ import annotations

import re

from storefront.extensions import db
from storefront.models import User
from tests.conftest import csrf_token, log_in
from tests.support import deliver
from tests.webhooks.billing_objects import subscription_object

CONFIRM_SETUP = "/checkout/test-mode/confirm-setup"


def test_card_page_saves_a_test_card_at_the_emulator(app, client, make_user, seeded,
                                                     stripe_emulator):
    student_id = make_user()
    deliver(client, "customer.subscription.created", subscription_object(
        "sub_e", status="past_due", student_id=student_id,
        plan_id=seeded["Student Subscription"]))
    log_in(client, "sam@example.com")
    html = client.get("/account/subscription/card").get_data(as_text=True)
    assert 'data-confirm-setup-url="/checkout/test-mode/confirm-setup"' in html
    assert "js/checkout.js" in html and 'data-confirm="setup"' in html
    secret = re.search(r'data-client-secret="([^"]+)"', html).group(1)
    token = csrf_token(client, "/account")

    wrong = client.post(CONFIRM_SETUP, headers={"X-CSRFToken": token}, json={
        "client_secret": secret.split("_secret_")[0] + "_secret_guess",
        "card_number": "4242424242424242"})
    assert wrong.status_code == 404
    saved = client.post(CONFIRM_SETUP, headers={"X-CSRFToken": token}, json={
        "client_secret": secret, "card_number": "4242 4242 4242 4242"})
    assert saved.get_json()["setupIntent"]["status"] == "succeeded"

    intent = stripe_emulator.client().v1.setup_intents.retrieve(secret.split("_secret_")[0])
    with app.app_context():
        customer = db.session.get(User, student_id).stripe_customer_id
    assert (intent.status, intent.customer, intent.usage) == ("succeeded", customer,
                                                               "off_session")
