"""A student whose renewal failed saves a new card in a real Chromium, through the real
static/js/checkout.js (in setup mode), and the month that was owed is paid and credited."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from storefront.extensions import db
from storefront.models import LedgerEntry
from tests.billing.subscribed import fail_next_renewal, months, state, subscribe
from tests.browser.pages import DECLINED_CARD, TEST_CARD, enter_card, log_in
from tests.support import wait_for

pytestmark = pytest.mark.browser

PLAN = "Student Subscription"  # 900 minutes for 119.00 a month


def _credited(app) -> list[int]:
    with app.app_context():
        return db.session.scalars(db.select(LedgerEntry.minutes).where(
            LedgerEntry.kind == "purchase_credit").order_by(LedgerEntry.id)).all()


def test_a_past_due_student_saves_a_new_card_and_the_month_is_paid(
        page: Page, app, seeded, make_user, live_server, stripe_emulator):
    sub_id = subscribe(app, stripe_emulator, make_user(), seeded[PLAN])
    fail_next_renewal(app, stripe_emulator, sub_id)

    log_in(page, live_server.url, "sam@example.com")
    panel = page.locator("section.subscription")
    expect(panel).to_have_attribute("data-status", "past_due")
    panel.get_by_role("link", name="Update card").click()
    expect(page.get_by_role("heading", name="Update your card")).to_be_visible()

    save = page.get_by_role("button", name="Save card")
    expect(save).to_be_enabled()
    enter_card(page, DECLINED_CARD)  # declined: nothing saved
    save.click()
    expect(page.locator("#payment-message")).to_contain_text(
        re.compile("declined", re.IGNORECASE))
    assert state(app, sub_id)[0] == "past_due"

    page.get_by_label("Card number").fill(TEST_CARD)
    save.click()
    page.wait_for_url(re.compile(r"/account$"))
    expect(page.get_by_text(re.compile("payment went through"))).to_be_visible()
    wait_for(lambda: state(app, sub_id)[0] == "active")
    expect(page.locator("section.subscription")).to_have_attribute("data-status", "active")
    assert months(app, sub_id) == 2
    assert _credited(app) == [900, 900]
