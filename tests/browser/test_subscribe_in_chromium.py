"""A guest subscribes in a real Chromium, through the real static/js/checkout.js."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from storefront.extensions import db
from storefront.models import LedgerEntry, User

pytestmark = pytest.mark.browser


def _credited_minutes(app, email: str) -> int:
    with app.app_context():
        user = db.session.scalars(db.select(User).where(User.email == email)).first()
        if user is None:
            return 0
        return sum(db.session.scalars(
            db.select(LedgerEntry.minutes).where(LedgerEntry.student_id == user.id)))


def test_guest_subscribes_with_the_test_card_after_a_decline(page: Page, app, synced,
                                                             live_server):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Subscribe to Student Subscription").click()
    expect(page.get_by_text("15 hours each month")).to_be_visible()
    page.get_by_label("Your name").fill("Ana Silva")
    page.get_by_label("Email").fill("ana@example.com")
    page.get_by_role("button", name="Continue to payment").click()

    subscribe = page.get_by_role("button", name=re.compile(r"^Subscribe: pay €119\.00"))
    expect(subscribe).to_be_enabled()
    for number in ("4000 0000 0000 0002", "4242 4242 4242 4242"):
        page.get_by_label("Card number").fill(number)
        page.get_by_label("Expiry").fill("12 / 34")
        page.get_by_label("CVC").fill("123")
        subscribe.click()
        if number.startswith("4000"):
            expect(page.locator("#payment-message")).to_contain_text(
                re.compile("declined", re.IGNORECASE))

    page.wait_for_url(re.compile(r"/checkout/complete\?payment_intent=pi_"))
    expect(page.locator("main")).to_have_attribute("data-purchase-status", "completed")
    expect(page.get_by_text("Your subscription is active")).to_be_visible()
    assert _credited_minutes(app, "ana@example.com") == 900
