"""A second locale in a real Chromium: with BABEL_LOCALE=pt_PT the plans page and the page after
a test-card purchase show money, hours and dates the Portuguese way (the words stay English)."""

from __future__ import annotations

import re

import pytest
from babel.dates import format_date
from playwright.sync_api import Page, expect

from storefront.extensions import db
from storefront.models import PricingPlan, Purchase
from tests.browser.pages import check_page, enter_card

pytestmark = pytest.mark.browser

# "5 de março de 2026": day, "de", the month's Portuguese name, "de", year.
PORTUGUESE_DATE = re.compile(r"^\d{1,2} de (janeiro|fevereiro|março|abril|maio|junho|julho|"
                             r"agosto|setembro|outubro|novembro|dezembro) de \d{4}$")


@pytest.fixture
def app(make_app):
    """The storefront as a Portuguese school would run it."""
    return make_app(BABEL_LOCALE="pt_PT")


@pytest.fixture
def taster(app, seeded) -> int:
    """A package of an hour and a half, so that the plans page shows a fraction of an hour."""
    with app.app_context():
        plan = PricingPlan(name="Taster Package", description="One session of an hour and a half.",
                           plan_type="package", minutes_included=90, price_minor=2250,
                           currency="eur", validity_days=14, display_order=0, is_featured=False)
        db.session.add(plan)
        db.session.commit()
        return plan.id


def test_plans_and_complete_pages_in_portuguese(page: Page, app, seeded, taster, live_server):
    page.goto(live_server.url + "/")
    basic = page.locator(f'[data-plan-id="{seeded["Basic Package"]}"]')
    expect(basic.locator(".price")).to_have_text("75,00 €")
    expect(basic).to_contain_text("15,00 € per hour")
    expect(basic).to_contain_text("5 hours")
    taster_card = page.locator(f'[data-plan-id="{taster}"]')
    expect(taster_card).to_contain_text("1,5 hours")
    expect(taster_card).to_contain_text("15,00 € per hour")
    monthly = page.locator(f'[data-plan-id="{seeded["Monthly Unlimited"]}"]')
    expect(monthly.locator(".price")).to_contain_text("199,00 €")
    assert "€75.00" not in page.content()
    check_page(page, "plans pt_PT")

    page.get_by_role("link", name="Buy Basic Package").click()
    page.get_by_label("Your name").fill("Ana Silva")
    page.get_by_label("Email").fill("ana@example.com")
    page.get_by_role("button", name="Continue to payment").click()
    pay_button = page.get_by_role("button", name="Pay 75,00 €")
    expect(pay_button).to_be_enabled()
    enter_card(page)
    pay_button.click()

    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    receipt = page.locator("dl.receipt")
    expect(receipt).to_contain_text("75,00 €")
    with app.app_context():
        expires_at = db.session.scalars(db.select(Purchase.expires_at)).one()
    use_by = receipt.locator("time")
    expect(use_by).to_have_text(format_date(expires_at, "long", locale="pt_PT"))
    assert PORTUGUESE_DATE.match(use_by.inner_text()), use_by.inner_text()
    expect(page.locator(".outcome")).to_contain_text("5 hours of tutoring")
    check_page(page, "complete pt_PT")
