"""Hours pending while a bank payment clears, in a real Chromium on a phone: a student pays by
a method that clears slowly (SEPA Direct Debit), comes back from Stripe to the complete page
and sees the hours pending there and on the dashboard; once Stripe's signed
payment_intent.succeeded arrives, the dashboard shows them available.

The emulator has no such methods: a local Stripe-shaped stub answers for the PaymentIntent
(the emulator's own object, `processing` as Stripe reports it) and passes every other request
on to the emulator."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.pages import check_page, log_in
from tests.support import WEBHOOK_PATH, signed_event, wait_for

pytestmark = pytest.mark.browser

PENDING_LINE = "5 hours pending — your bank payment is clearing (usually 2–5 business days)"


@pytest.fixture
def app(make_app, stripe_stub, stripe_emulator):
    stripe_stub.forward_to(stripe_emulator)
    return make_app(STRIPE_API_BASE=stripe_stub.base_url)


def _available_minutes(app, email: str) -> int:
    from storefront.extensions import db
    from storefront.models import Balance, User

    with app.app_context():
        user = db.session.scalars(db.select(User).where(User.email == email)).one()
        return db.session.get(Balance, user.id).available_minutes


def test_pending_hours_show_until_the_bank_payment_clears(
        page: Page, app, seeded, make_user, live_server, stripe_emulator, stripe_stub):
    make_user("ana@example.com", "Ana Silva")
    log_in(page, live_server.url, "ana@example.com")
    page.get_by_role("link", name="Choose a package").click()
    page.get_by_role("link", name="Buy Basic Package").click()
    page.get_by_role("button", name="Continue to payment").click()
    secret = page.locator("#payment-form").get_attribute("data-client-secret")
    intent_id = secret.split("_secret_")[0]

    # The student paid by SEPA Direct Debit: Stripe returns the browser to the complete
    # page, and the PaymentIntent is processing while the debit clears.
    real = stripe_emulator.client().v1.payment_intents.retrieve(intent_id).to_dict()
    processing = {**real, "status": "processing"}
    stripe_stub.respond_at(f"/v1/payment_intents/{intent_id}", 200, processing)
    page.goto(f"{live_server.url}/checkout/complete?payment_intent={intent_id}"
              f"&payment_intent_client_secret={secret}&redirect_status=succeeded")
    expect(page.locator("main")).to_have_attribute("data-payment-status", "processing")
    expect(page.locator(".pending-hours")).to_have_text(PENDING_LINE)
    check_page(page, "complete-pending")

    page.goto(live_server.url + "/account")
    expect(page.locator(".pending-hours")).to_have_text(PENDING_LINE)
    expect(page.locator("[data-available-minutes]")).to_have_text("0.00")
    expect(page.locator("[data-purchase-row]")).to_contain_text("Processing")
    check_page(page, "dashboard-pending")

    # The debit cleared: Stripe sends payment_intent.succeeded.
    payload, headers = signed_event("payment_intent.succeeded", {**real, "status": "succeeded"})
    assert requests.post(live_server.url + WEBHOOK_PATH, data=payload, headers=headers,
                         timeout=30).status_code == 200
    wait_for(lambda: _available_minutes(app, "ana@example.com") == 300)
    page.reload()
    expect(page.locator("[data-available-minutes]")).to_have_text("5.00")
    expect(page.locator(".pending-hours")).to_have_count(0)
    expect(page.locator("li.package").filter(has_text="Basic Package")).to_contain_text(
        re.compile(r"5 hours left of 5 hours.*expires in 30 days", re.DOTALL))
    check_page(page, "dashboard-cleared")
