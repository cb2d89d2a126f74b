"""A guest subscribes in a real Chromium, through the real static/js/checkout.js, then
claims the account and cancels at the period's end and undoes it; each page is audited."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from storefront.extensions import db
from storefront.models import User
from tests.browser.pages import (
    DECLINED_CARD,
    DESKTOP,
    PHONE,
    TEST_CARD,
    blank_bands,
    check_page,
    enter_card,
)
from tests.support import credited_minutes, wait_for

pytestmark = pytest.mark.browser


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
    for number in (DECLINED_CARD, TEST_CARD):
        enter_card(page, number)
        subscribe.click()
        if number == DECLINED_CARD:
            expect(page.locator("#payment-message")).to_contain_text(
                re.compile("declined", re.IGNORECASE))

    page.wait_for_url(re.compile(r"/checkout/complete\?payment_intent=pi_"))
    expect(page.locator("main")).to_have_attribute("data-purchase-status", "completed")
    expect(page.get_by_text("Your subscription is active")).to_be_visible()
    assert credited_minutes(app, "ana@example.com") == 900


def _subscription_status(app, email: str) -> tuple[str, bool] | None:
    from storefront.models import Subscription

    with app.app_context():
        subscription = db.session.scalars(
            db.select(Subscription).join(User, Subscription.student_id == User.id)
            .where(User.email == email)).first()
        return None if subscription is None else (subscription.status,
                                                  subscription.cancel_at_period_end)


def test_guest_subscribes_claims_the_account_cancels_and_resumes(page: Page, app, synced,
                                                                 live_server, mailbox):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Subscribe to Student Subscription").click()
    expect(page.get_by_text("Paid today, then every month until you cancel")).to_be_visible()
    check_page(page, "checkout-subscription")
    page.get_by_label("Your name").fill("Ana Silva")
    page.get_by_label("Email").fill("ana@example.com")
    page.get_by_role("button", name="Continue to payment").click()
    subscribe = page.get_by_role("button", name=re.compile(r"^Subscribe: pay €119\.00"))
    expect(subscribe).to_be_enabled()
    check_page(page, "pay-subscription")
    enter_card(page)
    subscribe.click()

    page.wait_for_url(re.compile(r"/checkout/complete\?payment_intent=pi_"))
    expect(page.get_by_text("Your subscription is active")).to_be_visible()
    check_page(page, "complete-subscription")
    assert credited_minutes(app, "ana@example.com") == 900
    # Stripe's events (the subscription activated, the invoice paid) arrive and add nothing.
    wait_for(lambda: _subscription_status(app, "ana@example.com") == ("active", False))
    assert credited_minutes(app, "ana@example.com") == 900

    # The guest's email becomes an account: the claim link sets its password.
    wait_for(lambda: mailbox.deliver() or mailbox.to("ana@example.com"))
    claim = mailbox.last_link("ana@example.com")
    page.goto(live_server.url + "/account/claim/" + claim.rsplit("/account/claim/", 1)[1])
    page.get_by_label("New password").fill("quiet-meadow-copper-77")
    page.get_by_label("Repeat the password").fill("quiet-meadow-copper-77")
    page.get_by_role("button", name="Save password").click()

    panel = page.locator("section.subscription")
    expect(panel).to_contain_text("Student Subscription")
    expect(panel).to_contain_text("15 hours credited, 15 hours left")
    expect(panel).to_have_attribute("data-status", "active")
    expect(panel.get_by_text(re.compile(r"^€119\.00 on "))).to_be_visible()

    check_page(page, "dashboard-subscription")
    # The panel's heading sits at its top, as the other panels' do: no blank band above it.
    assert blank_bands(page, "section.subscription") == []
    # On a desktop the panel's buttons are as wide as their words, not the whole panel.
    page.set_viewport_size(DESKTOP)
    wide = panel.evaluate("""panel => [...panel.querySelectorAll('.button')]
        .filter(button => button.offsetWidth > panel.clientWidth / 2)
        .map(button => `${button.innerText}: ${button.offsetWidth}px`)""")
    assert wide == []
    page.set_viewport_size(PHONE)

    panel.get_by_role("button", name="Cancel at the end of this period").click()
    expect(page.get_by_role("status").filter(
        has_text="Your subscription stops at the end of this period")).to_be_visible()
    expect(panel.get_by_text(re.compile(r"^Cancelled: access stops on"))).to_be_visible()
    assert _subscription_status(app, "ana@example.com") == ("active", True)
    check_page(page, "dashboard-subscription-cancelled")

    panel.get_by_role("button", name="Keep my subscription").click()
    expect(page.get_by_role("status").filter(
        has_text="Your subscription continues; it renews as before.")).to_be_visible()
    expect(panel.get_by_role("button", name="Cancel at the end of this period")).to_be_visible()
    expect(panel.get_by_text(re.compile("access stops"))).to_have_count(0)
    assert _subscription_status(app, "ana@example.com") == ("active", False)
    # The emulator's own update events, late or not, leave it resumed.
    wait_for(lambda: _subscription_status(app, "ana@example.com") == ("active", False))
    assert credited_minutes(app, "ana@example.com") == 900
