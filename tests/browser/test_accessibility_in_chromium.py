"""What a screen-reader user, a low-vision user and a motion-sensitive user meet on every page:
errors announced where they appear, every input labelled, headings in order, colour contrast
meeting WCAG 2.2 AA, and nothing moving when the system asks for reduced motion."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import (
    assertive,
    axe_rules,
    heading_levels,
    heading_problems,
    live_region,
    motion,
    unlabelled_controls,
)
from tests.browser.pages import DECLINED_CARD, enter_card
from tests.browser.tour import tour

pytestmark = pytest.mark.browser


def _start_paying(page: Page, base: str, plan_id: int) -> None:
    page.goto(base + f"/checkout/{plan_id}")
    page.get_by_label("Your name").fill("Ana Silva")
    page.get_by_label("Email").fill("ana@example.com")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_role("button", name=re.compile("^Pay"))).to_be_enabled()


def _assert_field_errors_announced(page: Page, expected: dict[str, str]) -> None:
    """Each named field's error is shown in an assertive live region, and the field is marked
    invalid and described by it, so a screen reader reads the error with the field."""
    for field_id, text in expected.items():
        field = page.locator(f"#{field_id}")
        expect(field).to_have_attribute("aria-invalid", "true")
        described_by = (field.get_attribute("aria-describedby") or "").split()
        assert described_by, f"#{field_id} is not described by its error"
        error = page.locator(f"#{described_by[0]}")
        expect(error).to_contain_text(text)
        region = live_region(error)
        assert assertive(region), f"#{field_id}'s error is in no alert region: {region}"


def test_checkout_form_errors_are_announced(page: Page, seeded, live_server):
    page.goto(live_server.url + f"/checkout/{seeded['Basic Package']}")
    page.get_by_label("Email").fill("not an address")
    page.get_by_role("button", name="Continue to payment").click()
    _assert_field_errors_announced(page, {"name": "required", "email": "valid email"})
    # Focus lands on the first field to correct, so its label and error are read at once.
    expect(page.locator("#name")).to_be_focused()


def test_account_form_errors_are_announced(page: Page, seeded, live_server):
    page.goto(live_server.url + "/account/register")
    page.get_by_label("Email").fill("not an address")
    page.get_by_role("button", name="Create account").click()
    _assert_field_errors_announced(page, {"name": "required", "email": "valid email"})

    page.goto(live_server.url + "/account/login")
    page.get_by_label("Email").fill("sam@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    failure = page.locator(".error")
    expect(failure).to_contain_text(re.compile("email or password", re.I))
    assert assertive(live_region(failure))


def test_card_errors_and_the_payment_message_are_announced(page: Page, app, seeded,
                                                           live_server):
    _start_paying(page, live_server.url, seeded["Basic Package"])
    pay = page.get_by_role("button", name=re.compile("^Pay"))

    # An incomplete card: the error is read out and tied to the card number field.
    page.get_by_label("Card number").fill("4242")
    pay.click()
    _assert_field_errors_announced(page, {"pe-card-number": "card number is incomplete"})

    # A declined card: the payment message is an alert, and the decline appears in it.
    message = page.locator("#payment-message")
    expect(message).to_have_attribute("role", "alert")
    enter_card(page, DECLINED_CARD)
    expect(page.locator("#pe-card-number")).not_to_have_attribute("aria-invalid", "true")
    pay.click()
    expect(message).to_be_visible()
    expect(message).to_contain_text(re.compile("declined", re.I))
    assert assertive(live_region(message))


def _labels(page: Page) -> list:
    return unlabelled_controls(page) + axe_rules(
        page, ["label", "select-name", "button-name", "input-button-name", "link-name",
               "form-field-multiple-labels", "label-title-only"])


def _headings(page: Page) -> list:
    levels = heading_levels(page)
    print("    headings: " + " ".join(f"h{level}" for level, _ in levels))
    return heading_problems(levels) + axe_rules(
        page, ["heading-order", "page-has-heading-one", "empty-heading"])


def _contrast(page: Page) -> list:
    found = axe_rules(page, ["color-contrast"])
    # The skip link as it shows when focused.
    page.keyboard.press("Tab")
    found += axe_rules(page, ["color-contrast"])
    page.keyboard.press("Shift+Tab")
    return found


def _motion(page: Page) -> list:
    assert page.evaluate("() => matchMedia('(prefers-reduced-motion: reduce)').matches")
    return motion(page)


def test_every_page_is_labelled_in_heading_order_legible_and_still(
        page: Page, app, synced, live_server, make_user):
    """One walk through every page and state, four checks on each: every control labelled,
    headings in order, colour contrast AA (the focused skip link too), and nothing moving
    once the system asks for reduced motion."""
    # Without the preference the buttons ease their colour change: the motion check sees it.
    page.goto(live_server.url + "/")
    assert any("transition" in found for found in motion(page))
    page.emulate_media(reduced_motion="reduce")
    checks = {"labels": _labels, "headings": _headings, "contrast": _contrast,
              "motion": _motion}
    problems: dict[str, dict[str, list]] = {concern: {} for concern in checks}

    def check(page: Page, name: str) -> None:
        print(f"  {name}")
        for concern, run in checks.items():
            if found := run(page):
                problems[concern][name] = found

    visited = tour(page, app, synced, live_server.url, make_user, check)
    print(f"labels, headings, contrast and motion checked on {len(visited)} pages: "
          f"{', '.join(visited)}")
    assert {concern: found for concern, found in problems.items() if found} == {}
