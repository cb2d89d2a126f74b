"""A whole guest purchase in a real Chromium, through the real static/js/checkout.js; the
plans, checkout, pay and complete pages are audited on the way (pages.py)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from storefront.extensions import db
from tests.browser.pages import DESKTOP, PHONE, blank_bands, check_page, enter_card
from tests.support import credited_minutes, wait_for

pytestmark = pytest.mark.browser


def _choose_basic_package_as_guest(page: Page, base_url: str, audit: bool = False) -> None:
    page.goto(base_url + "/")
    expect(page.get_by_role("heading", name="Packages")).to_be_visible()
    expect(page.get_by_text("Most popular").first).to_be_visible()
    if audit:
        check_page(page, "plans")
    page.get_by_role("link", name="Buy Basic Package").click()
    expect(page.get_by_role("heading", name="Basic Package")).to_be_visible()
    if audit:
        check_page(page, "checkout")
        assert blank_bands(page, "main aside, main form") == []
    page.get_by_label("Your name").fill("Ana Silva")
    page.get_by_label("Email").fill("ana@example.com")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_text("Test mode").first).to_be_visible()


def _odd_fonts(page: Page) -> list[str]:
    """Controls not in the page's own typeface (browsers give buttons and inputs theirs)."""
    return page.evaluate("""() => {
        const body = getComputedStyle(document.body).fontFamily;
        return [...document.querySelectorAll('main button, main input, main select')]
            .filter(el => el.offsetParent !== null && getComputedStyle(el).fontFamily !== body)
            .map(el => `${el.tagName.toLowerCase()} ${el.id || el.innerText}: `
                       + getComputedStyle(el).fontFamily);
    }""")


def _column_edges(page: Page, *selectors: str) -> set[tuple[int, int]]:
    """The left and right edges of each box: one pair when they line up as one column."""
    return {tuple(round(v) for v in page.locator(s).evaluate(
        "el => { const b = el.getBoundingClientRect(); return [b.left, b.right]; }"))
        for s in selectors}



def test_guest_buys_a_package_with_the_test_card(page: Page, app, seeded, live_server):
    _choose_basic_package_as_guest(page, live_server.url, audit=True)
    pay_button = page.get_by_role("button", name=re.compile(r"^Pay €75\.00"))
    expect(pay_button).to_be_enabled()
    check_page(page, "pay")
    enter_card(page)
    assert _odd_fonts(page) == []
    assert blank_bands(page, "main aside, main form") == []
    page.set_viewport_size(DESKTOP)  # the order summary and the card form: one column
    assert len(_column_edges(page, "aside.summary", "form.payment")) == 1
    page.set_viewport_size(PHONE)
    enter_card(page)
    confirmations = []
    page.on("request", lambda request: confirmations.append(request.url)
            if "/checkout/test-mode/confirm" in request.url else None)
    pay_button.dblclick()  # an impatient double tap still pays once

    page.wait_for_url(re.compile(r"/checkout/complete\?payment_intent=pi_"))
    expect(page.locator("main")).to_have_attribute("data-payment-status", "succeeded")
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.get_by_text("5 hours")).to_be_visible()
    check_page(page, "complete")
    assert len(confirmations) == 1
    assert credited_minutes(app, "ana@example.com") == 300
    # The emulator's webhook arrives too, and credits nothing more.
    wait_for(lambda: _webhook_seen(app))
    assert credited_minutes(app, "ana@example.com") == 300


def _webhook_seen(app) -> bool:
    from storefront.models import WebhookEvent

    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(WebhookEvent)) > 0


def test_declined_card_shows_the_decline_and_allows_a_retry(page: Page, app, seeded,
                                                           live_server):
    _choose_basic_package_as_guest(page, live_server.url)
    enter_card(page, "4000 0000 0000 0341")
    page.get_by_role("button", name=re.compile("^Pay")).click()

    message = page.locator("#payment-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text(re.compile("declined", re.IGNORECASE))
    expect(page).to_have_url(re.compile(r"/checkout/purchase/\d+/pay$"))
    check_page(page, "pay-declined")
    assert credited_minutes(app, "ana@example.com") == 0

    enter_card(page)
    expect(message).to_be_hidden()
    page.get_by_role("button", name=re.compile("^Pay")).click()
    expect(page.locator("main")).to_have_attribute("data-payment-status", "succeeded")
    assert credited_minutes(app, "ana@example.com") == 300
