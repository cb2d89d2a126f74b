"""A whole guest purchase in a real Chromium, through the real static/js/checkout.js."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from storefront.extensions import db
from storefront.models import LedgerEntry, User
from tests.support import wait_for

pytestmark = pytest.mark.browser


def _credited_minutes(app, email: str) -> int:
    with app.app_context():
        user = db.session.scalars(db.select(User).where(User.email == email)).first()
        if user is None:
            return 0
        return sum(db.session.scalars(
            db.select(LedgerEntry.minutes).where(LedgerEntry.student_id == user.id)))


def _choose_basic_package_as_guest(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    expect(page.get_by_role("heading", name="Packages")).to_be_visible()
    expect(page.get_by_text("Most popular").first).to_be_visible()
    page.get_by_role("link", name="Buy Basic Package").click()
    expect(page.get_by_role("heading", name="Basic Package")).to_be_visible()
    page.get_by_label("Your name").fill("Ana Silva")
    page.get_by_label("Email").fill("ana@example.com")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_text("Test mode").first).to_be_visible()


def _enter_card(page: Page, number: str) -> None:
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry").fill("12 / 34")
    page.get_by_label("CVC").fill("123")


def test_guest_buys_a_package_with_the_test_card(page: Page, app, seeded, live_server):
    _choose_basic_package_as_guest(page, live_server.url)
    pay_button = page.get_by_role("button", name=re.compile(r"^Pay €75\.00"))
    expect(pay_button).to_be_enabled()
    _enter_card(page, "4242 4242 4242 4242")
    confirmations = []
    page.on("request", lambda request: confirmations.append(request.url)
            if "/checkout/test-mode/confirm" in request.url else None)
    pay_button.dblclick()  # an impatient double tap still pays once

    page.wait_for_url(re.compile(r"/checkout/complete\?payment_intent=pi_"))
    expect(page.locator("main")).to_have_attribute("data-payment-status", "succeeded")
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.get_by_text("5 hours")).to_be_visible()
    assert len(confirmations) == 1
    assert _credited_minutes(app, "ana@example.com") == 300
    # The emulator's webhook arrives too, and credits nothing more.
    wait_for(lambda: _webhook_seen(app))
    assert _credited_minutes(app, "ana@example.com") == 300


def _webhook_seen(app) -> bool:
    from storefront.models import WebhookEvent

    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(WebhookEvent)) > 0


def test_declined_card_shows_the_decline_and_allows_a_retry(page: Page, app, seeded,
                                                           live_server):
    _choose_basic_package_as_guest(page, live_server.url)
    _enter_card(page, "4000 0000 0000 0341")
    page.get_by_role("button", name=re.compile("^Pay")).click()

    message = page.locator("#payment-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text(re.compile("declined", re.IGNORECASE))
    expect(page).to_have_url(re.compile(r"/checkout/purchase/\d+/pay$"))
    assert _credited_minutes(app, "ana@example.com") == 0

    _enter_card(page, "4242 4242 4242 4242")
    expect(message).to_be_hidden()
    page.get_by_role("button", name=re.compile("^Pay")).click()
    expect(page.locator("main")).to_have_attribute("data-payment-status", "succeeded")
    assert _credited_minutes(app, "ana@example.com") == 300
