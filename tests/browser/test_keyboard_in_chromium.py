"""The site with the keyboard alone: a skip link first, a visible focus ring on every control,
and a whole guest purchase made with Tab, Shift+Tab, Enter and Space."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.keyboard import every_stop, focused, press, snapshot, tab_to
from tests.browser.pages import DESKTOP, PHONE
from tests.support import credited_minutes

pytestmark = pytest.mark.browser


def _main_has_focus(page: Page) -> bool:
    return page.evaluate("() => document.activeElement === document.querySelector('main')")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_the_content(
        page: Page, seeded, live_server, viewport):
    page.set_viewport_size(viewport)
    for path in ("/", f"/checkout/{seeded['Basic Package']}", "/account/login"):
        page.goto(live_server.url + path)
        snapshot(page)
        skip = press(page, "Tab")
        assert skip.text == "Skip to content", f"first Tab stop on {path}: {skip.element}"
        assert page.evaluate("() => document.activeElement.getBoundingClientRect().height") >= 44
        page.keyboard.press("Enter")
        assert _main_has_focus(page), f"Enter on the skip link left focus elsewhere on {path}"
        # The next Tab goes into the page's own content, past the header.
        first = press(page, "Tab")
        assert page.evaluate("() => document.querySelector('main').contains("
                             "document.activeElement)"), f"{first.element} is not in <main>"


def test_every_control_shows_a_focus_ring(page: Page, app, seeded, live_server, make_user):
    student_id = make_user("sam@example.com")
    make_user("staff@example.com", "Staff Member", staff=True)
    page.set_viewport_size(DESKTOP)
    visited = {}
    for path in ("/", f"/checkout/{seeded['Basic Package']}", "/account/login",
                 "/account/register", "/account/password/forgot"):
        page.goto(live_server.url + path)
        snapshot(page)
        visited[path] = len(every_stop(page))
    # The pay page, with the payment form's own fields.
    page.goto(live_server.url + f"/checkout/{seeded['Basic Package']}")
    page.get_by_label("Your name").fill("Sam Student")
    page.get_by_label("Email").fill("sam@example.com")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_role("button", name=re.compile("^Pay"))).to_be_enabled()
    snapshot(page)
    visited["pay"] = len(every_stop(page))
    # Logged in: the dashboard, and the log-out button in the header.
    page.goto(live_server.url + "/account/login")
    page.get_by_label("Email").fill("sam@example.com")
    page.get_by_label("Password").fill("violet-harbour-lantern-42")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    snapshot(page)
    visited["dashboard"] = len(every_stop(page))
    # Staff: the student page, with its many forms.
    page.get_by_role("button", name="Log out").click()
    page.goto(live_server.url + "/account/login")
    page.get_by_label("Email").fill("staff@example.com")
    page.get_by_label("Password").fill("violet-harbour-lantern-42")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.goto(live_server.url + f"/staff/students/{student_id}")
    snapshot(page)
    visited["staff student"] = len(every_stop(page))
    print("tab stops checked:", visited)
    assert all(count >= 3 for count in visited.values()), visited


def test_guest_buys_a_package_with_the_keyboard_alone(page: Page, app, seeded, live_server):
    page.set_viewport_size(DESKTOP)
    page.goto(live_server.url + "/")
    snapshot(page)

    # Skip the header, reach the second package's button, then come back to the first.
    assert press(page, "Tab").text == "Skip to content"
    page.keyboard.press("Enter")
    assert _main_has_focus(page)
    assert press(page, "Tab").label == "Buy Basic Package"
    assert press(page, "Tab").label == "Buy Standard Package"
    assert press(page, "Shift+Tab").label == "Buy Basic Package"
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Basic Package")).to_be_visible()
    snapshot(page)
    tab_to(page, lambda stop: stop.id == "name")
    page.keyboard.type("Ana Silva")
    assert press(page, "Tab").id == "email"
    page.keyboard.type("ana@example.com")
    assert press(page, "Tab").text == "Continue to payment"
    assert press(page, "Shift+Tab").id == "email"  # back to check the address, then on
    assert press(page, "Tab").text == "Continue to payment"
    page.keyboard.press("Space")

    pay = page.get_by_role("button", name=re.compile(r"^Pay €75\.00"))
    expect(pay).to_be_enabled()  # the payment form is ready
    snapshot(page)
    tab_to(page, lambda stop: stop.id == "pe-card-number")
    page.keyboard.type("4242 4242 4242 4242")
    assert press(page, "Tab").id == "pe-card-expiry"
    page.keyboard.type("12 / 34")
    assert press(page, "Tab").id == "pe-card-cvc"
    page.keyboard.type("123")
    assert press(page, "Tab").id == "pay-button"
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/checkout/complete\?payment_intent=pi_"))
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.locator("main")).to_have_attribute("data-purchase-status", "completed")
    assert credited_minutes(app, "ana@example.com") == 300
    # The complete page is usable from the keyboard too: its first stop shows a ring.
    snapshot(page)
    assert focused(page) is None
    assert press(page, "Tab").text == "Skip to content"
