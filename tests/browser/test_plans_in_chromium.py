"""The plans page helps a student choose: each plan's price per hour beside the others', how
long a package's hours last, which plan is most popular, and what a package and a
subscription are, in one line each."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.pages import DESKTOP, PHONE, check_page

pytestmark = pytest.mark.browser

# Price per hour of the default plans (storefront/catalog/services.py DEFAULT_PLANS).
PER_HOUR = {"Basic Package": "€15.00", "Standard Package": "€14.00",
            "Premium Package": "€13.00", "Intensive Package": "€12.00",
            "Monthly Unlimited": "€6.63", "Student Subscription": "€7.93",
            "Family Subscription": "€5.98"}
VALID_DAYS = {"Basic Package": 30, "Standard Package": 45, "Premium Package": 60,
              "Intensive Package": 90}


def _card(page: Page, name: str):
    return page.locator("article.plan-card").filter(
        has=page.get_by_role("heading", name=name, exact=True))


def _rows(page: Page, names) -> list[list[str]]:
    """The plans grouped by the line their price per hour is shown on."""
    rows: list[tuple[float, list[str]]] = []
    for name in names:
        top = _card(page, name).locator(".per-hour").bounding_box()["y"]
        row = next((row for y, row in rows if abs(y - top) < 4), None)
        if row is None:
            rows.append((top, [name]))
        else:
            row.append(name)
    return [row for _, row in rows]


def test_plans_page_helps_a_student_choose(page: Page, seeded, live_server):
    page.goto(live_server.url + "/")

    # What each kind is, in one line under its heading.
    for section, words in (("Packages", "once"), ("Subscriptions", "every month")):
        explanation = page.get_by_role("region", name=section).locator(".kind")
        expect(explanation).to_have_count(1)
        expect(explanation).to_contain_text(words)
        assert explanation.evaluate(
            "el => el.getBoundingClientRect().height / parseFloat(getComputedStyle(el)"
            ".lineHeight)") < 2.5, f"the {section} explanation is more than a line or two"

    for name, price in PER_HOUR.items():
        card = _card(page, name)
        expect(card.locator(".per-hour")).to_have_text(f"{price} per hour")
        if name in VALID_DAYS:
            expect(card).to_contain_text(f"Hours valid {VALID_DAYS[name]} days")
        else:
            expect(card).to_contain_text("Renews monthly")
    featured = page.locator("article.plan-card", has=page.get_by_text("Most popular"))
    expect(featured).to_have_count(2)
    expect(_card(page, "Standard Package")).to_contain_text("Most popular")
    expect(_card(page, "Monthly Unlimited")).to_contain_text("Most popular")

    # Prices per hour side by side: on a desktop all four packages on one line, on a phone
    # at least two.
    page.set_viewport_size(DESKTOP)
    assert len(_rows(page, VALID_DAYS)) == 1, _rows(page, VALID_DAYS)
    page.set_viewport_size(PHONE)
    assert all(len(row) >= 2 for row in _rows(page, VALID_DAYS)), _rows(page, VALID_DAYS)

    check_page(page, "plans")
