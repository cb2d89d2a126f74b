"""A student picks US dollars on the plans page in a real Chromium (a plain form, no script),
buys a package with the 4242 test card, and sees dollars on the checkout, pay and complete
pages and on the receipt; the plans page with the picker is audited (pages.py)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from storefront.extensions import db
from storefront.models import Purchase
from tests.browser.pages import check_page, enter_card, log_in
from tests.support import credited_minutes

pytestmark = pytest.mark.browser


def test_a_student_picks_dollars_and_pays_in_dollars(page: Page, app, priced, make_user,
                                                     live_server):
    make_user("sam@example.com", "Sam Student")
    page.set_extra_http_headers({"Accept-Language": "en-IE,en;q=0.8"})  # euros by default
    log_in(page, live_server.url, "sam@example.com")

    page.goto(live_server.url + "/")
    basic = page.locator(f'[data-plan-id="{priced["Basic Package"]}"]')
    expect(basic.locator(".price")).to_have_text("€75.00")
    page.get_by_label("Currency").select_option("usd")
    page.get_by_role("button", name="Show prices").click()
    expect(basic.locator(".price")).to_have_text("US$82.00")
    expect(basic).to_contain_text("US$16.40 per hour")
    expect(page.get_by_label("Currency")).to_have_value("usd")
    premium = page.locator(f'[data-plan-id="{priced["Premium Package"]}"]')
    expect(premium.locator(".price")).to_have_text("€260.00")  # no dollar price: euros
    expect(page.get_by_text("Plans without a price in USD are shown, and sold, in euros."))\
        .to_be_visible()
    check_page(page, "plans-currency")

    page.get_by_role("link", name="Buy Basic Package").click()
    expect(page.locator("aside.summary .total")).to_have_text("US$82.00")
    expect(page.get_by_label("Currency")).to_have_value("usd")
    check_page(page, "checkout-currency")
    page.get_by_role("button", name="Continue to payment").click()
    pay_button = page.get_by_role("button", name=re.compile(r"^Pay US\$82\.00"))
    expect(pay_button).to_be_enabled()
    enter_card(page)
    pay_button.click()

    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.locator("dl.receipt")).to_contain_text("US$82.00")
    assert credited_minutes(app, "sam@example.com") == 300
    with app.app_context():
        purchase = db.session.scalars(db.select(Purchase)).one()
        assert (purchase.price_minor, purchase.currency, purchase.status) == (
            8200, "usd", "completed")

    page.goto(f"{live_server.url}/account/purchases/{purchase.id}")
    expect(page.locator("main")).to_contain_text("US$82.00")
    assert "€" not in page.locator("main").inner_text()
    check_page(page, "receipt-currency")
