"""Payment methods that redirect (iDEAL, Bancontact) or clear slowly (SEPA Direct Debit):
the complete page Stripe returns the browser to (`?payment_intent=pi_…&redirect_status=…`)
reads the PaymentIntent's real state, and shows hours pending while a bank payment clears.

The emulator has no such methods: a local Stripe-shaped stub answers for the PaymentIntent
(the emulator's own object, in the state Stripe would show) and passes every other request
on to the emulator."""

from __future__ import annotations

import re

import pytest

from storefront.extensions import db
from storefront.ledger import verify_ledger
from storefront.models import Balance, User
from tests.conftest import csrf_token, log_in
from tests.support import deliver

PENDING_LINE = "5 hours pending — your bank payment is clearing (usually 2–5 business days)"


def text_of(html: str) -> str:
    """The page's words as a person reads them: tags dropped, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def app(make_app, stripe_stub, stripe_emulator):
    stripe_stub.forward_to(stripe_emulator)
    return make_app(STRIPE_API_BASE=stripe_stub.base_url)


@pytest.fixture
def bank_payment(app, client, seeded, stripe_emulator, stripe_stub):
    """A purchase started in this browser and the PaymentIntent as the stub will tell it:
    set(status, **fields) decides what Stripe says next. Returns (purchase id, intent id,
    client secret, set)."""
    plan_id = seeded["Basic Package"]
    response = client.post(f"/checkout/{plan_id}", data={
        "csrf_token": csrf_token(client, f"/checkout/{plan_id}"), "name": "Ana Silva",
        "email": "ana@example.com"})
    assert response.status_code == 302, response.get_data(as_text=True)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    secret = re.search(r'data-client-secret="([^"]+)"', html).group(1)
    intent_id = secret.split("_secret_")[0]
    real = stripe_emulator.client().v1.payment_intents.retrieve(intent_id).to_dict()

    def set_status(status: str, **fields) -> dict:
        obj = {**real, "status": status, "last_payment_error": None, **fields}
        stripe_stub.respond_at(f"/v1/payment_intents/{intent_id}", 200, obj)
        return obj

    purchase_id = int(response.headers["Location"].split("/")[-2])
    return purchase_id, intent_id, secret, set_status


def returned(client, intent_id, secret, redirect_status="succeeded"):
    """The browser back from the bank's page, as Stripe sends it."""
    return client.get(f"/checkout/complete?payment_intent={intent_id}"
                      f"&payment_intent_client_secret={secret}&redirect_status={redirect_status}")


def minutes(app, email="ana@example.com") -> tuple[int, int]:
    """(available, pending) minutes of the student."""
    with app.app_context():
        assert verify_ledger() == []
        user = db.session.scalars(db.select(User).where(User.email == email)).one()
        balance = db.session.get(Balance, user.id)
        return balance.available_minutes, balance.pending_minutes


def test_complete_page_shows_pending_hours_while_the_bank_payment_clears(
        app, client, bank_payment):
    _, intent_id, secret, set_status = bank_payment
    set_status("processing")
    page = returned(client, intent_id, secret)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-payment-status="processing"' in html
    assert PENDING_LINE in text_of(html)
    assert 'http-equiv="refresh"' not in html  # days, not seconds: no reloading meanwhile
    assert minutes(app) == (0, 300)
    returned(client, intent_id, secret)  # a reload changes nothing
    assert minutes(app) == (0, 300)

    set_status("succeeded")
    html = returned(client, intent_id, secret).get_data(as_text=True)
    assert "Payment received" in html and PENDING_LINE not in text_of(html)
    assert minutes(app) == (300, 0)


@pytest.mark.parametrize("redirect_status", ["failed", "succeeded", "requires_action"])
def test_the_redirect_status_is_never_trusted(app, client, bank_payment, redirect_status):
    _, intent_id, secret, set_status = bank_payment
    set_status("processing")
    html = returned(client, intent_id, secret, redirect_status).get_data(as_text=True)
    assert 'data-payment-status="processing"' in html and PENDING_LINE in text_of(html)
    assert minutes(app) == (0, 300)


def test_a_redirect_back_from_a_refused_bank_payment_shows_it_failed(
        app, client, bank_payment, mailbox):
    _, intent_id, secret, set_status = bank_payment
    set_status("processing")
    returned(client, intent_id, secret)
    set_status("requires_payment_method", last_payment_error={
        "type": "invalid_request_error", "code": "payment_method_provider_decline",
        "message": "The bank refused this debit."})
    html = returned(client, intent_id, secret, "succeeded").get_data(as_text=True)
    assert "Payment not completed" in html and "The bank refused this debit." in html
    assert PENDING_LINE not in text_of(html)
    assert minutes(app) == (0, 0)
    [mail] = mailbox.to("ana@example.com")
    assert "did not go through" in mail["Subject"]


def test_dashboard_shows_pending_hours_until_the_payment_succeeds(
        app, client, seeded, make_user, stripe_emulator, stripe_stub):
    make_user("ana@example.com", "Ana Silva")
    log_in(client, "ana@example.com")
    plan_id = seeded["Basic Package"]
    response = client.post(f"/checkout/{plan_id}", data={"csrf_token": csrf_token(client)})
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    secret = re.search(r'data-client-secret="([^"]+)"', html).group(1)
    intent_id = secret.split("_secret_")[0]
    real = stripe_emulator.client().v1.payment_intents.retrieve(intent_id).to_dict()
    stripe_stub.respond_at(f"/v1/payment_intents/{intent_id}", 200,
                           {**real, "status": "processing"})
    returned(client, intent_id, secret)

    dashboard = text_of(client.get("/account").get_data(as_text=True))
    assert PENDING_LINE in dashboard
    assert "0.00 hours available" in dashboard

    deliver(client, "payment_intent.succeeded", {**real, "status": "succeeded"})
    dashboard = text_of(client.get("/account").get_data(as_text=True))
    assert PENDING_LINE not in dashboard
    assert "5.00 hours available" in dashboard
