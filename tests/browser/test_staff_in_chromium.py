"""A staff member's day in a real Chromium: find a student, record and cancel a session,
extend a package, refund part of it through Stripe, and edit a plan that students then see
at once. Every staff page visited is audited and photographed at phone and desktop size."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from storefront import ledger
from storefront.extensions import db
from storefront.models import Balance, PricingPlan, Purchase
from tests.browser.pages import check_page
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _log_in_as_staff(page: Page, base_url: str, make_user) -> None:
    make_user("staff@example.com", "Staff Member", staff=True)
    page.goto(base_url + "/account/login?next=/staff")
    page.get_by_label("Email").fill("staff@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Staff", exact=True)).to_be_visible()


def _flash(page: Page):
    """The message a staff action leaves at the top of the page."""
    return page.locator("main").get_by_role("status")


def _cells_cut_off(page: Page) -> list[str]:
    """Table cells reaching past the right edge of the window (hidden off the side)."""
    return page.evaluate("""() => [...document.querySelectorAll('main td')]
        .filter(cell => cell.getBoundingClientRect().right > window.innerWidth + 0.5)
        .map(cell => cell.innerText.trim().slice(0, 30))""")


def _available_minutes(app, student_id: int) -> int:
    with app.app_context():
        return db.session.get(Balance, student_id).available_minutes


def test_staff_member_records_cancels_extends_and_refunds(page: Page, app, make_user, buy,
                                                          student_id, stripe_emulator,
                                                          live_server):
    purchase_id = buy("Standard Package")  # €140.00 for 10 hours
    sam = student_id()
    with app.app_context():
        expires_before = db.session.get(Purchase, purchase_id).expires_at
    _log_in_as_staff(page, live_server.url, make_user)
    check_page(page, "staff-search")

    page.get_by_label("Find a student by email or name").fill("SAM")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/staff\?q=SAM$"))
    check_page(page, "staff-search-results")
    page.get_by_role("link", name=re.compile("Sam Student")).click()
    expect(page.get_by_role("heading", name="Sam Student")).to_be_visible()
    balance = page.locator("[data-remaining-minutes]")
    expect(balance).to_have_attribute("data-remaining-minutes", "600")
    check_page(page, "staff-student")

    # A session of an hour and a half is recorded, then cancelled: the hours come back.
    page.get_by_label("Hours", exact=True).fill("1.5")
    page.get_by_label("Session reference", exact=True).fill("algebra-3")
    page.get_by_role("button", name="Record", exact=True).click()
    expect(_flash(page)).to_contain_text("Recorded 1.50 hours for algebra-3.")
    expect(balance).to_have_attribute("data-remaining-minutes", "510")
    assert _available_minutes(app, sam) == 510
    expect(page.get_by_role("row", name=re.compile("consumption.*-90.*algebra-3"))).to_be_visible()
    check_page(page, "staff-student-session-recorded")

    page.get_by_label("Cancel a session (reference)").fill("algebra-3")
    page.get_by_role("button", name="Cancel session").click()
    expect(_flash(page)).to_contain_text(
        "Session algebra-3 cancelled; its hours are back.")
    expect(balance).to_have_attribute("data-remaining-minutes", "600")
    assert _available_minutes(app, sam) == 600

    # The package is extended by a week.
    package = page.locator(f"[data-purchase-id='{purchase_id}']")
    package.get_by_text("Extend or refund").click()
    check_page(page, "staff-extend-and-refund-forms")
    package.get_by_label("Extend by (days)").fill("7")
    package.get_by_label("Reason", exact=True).first.fill("Holiday")
    package.get_by_role("button", name="Extend").click()
    expect(_flash(page)).to_contain_text(
        f"Purchase {purchase_id} extended by 7 days.")
    with app.app_context():
        assert (db.session.get(Purchase, purchase_id).expires_at - expires_before).days == 7

    # Half the price goes back to the card through Stripe; the hours paid for it go too.
    package.get_by_text("Extend or refund").click()
    package.get_by_label(re.compile(r"^Refund amount in EUR \(up to €140\.00\)")).fill("70.00")
    package.get_by_label("Reason").last.fill("Moved away")
    package.get_by_role("button", name="Refund through Stripe").click()
    expect(_flash(page)).to_contain_text("Refund of €70.00 sent to Stripe.")
    expect(package).to_contain_text("refunded €70.00")
    expect(package).to_contain_text("partially refunded")
    expect(balance).to_have_attribute("data-remaining-minutes", "300")
    check_page(page, "staff-student-refunded")
    assert _cells_cut_off(page) == []  # at phone size, every ledger column shows
    with app.app_context():
        purchase = db.session.get(Purchase, purchase_id)
        assert (purchase.status, purchase.refunded_minor) == ("partially_refunded", 7000)
        intent_id = purchase.payment_intent_id
        assert ledger.verify_ledger() == []
    assert _available_minutes(app, sam) == 300
    charges = stripe_emulator.client().v1.charges.list(params={"limit": 10}).data
    assert [c.amount_refunded for c in charges if c.payment_intent == intent_id] == [7000]


def test_a_plan_edited_by_staff_shows_on_the_plans_page_at_once(page: Page, browser: Browser,
                                                                 app, seeded, make_user,
                                                                 live_server, offsite):
    # A student has the plans page already: in the browser's cache, the server's page memo
    # and this worker's copy of the plans.
    student = browser.new_context(viewport={"width": 390, "height": 844})
    student.on("request", lambda request: offsite.seen(request.url))
    try:
        shop = student.new_page()
        first = shop.goto(live_server.url + "/")
        etag = first.headers["etag"]
        basic = shop.locator(f"[data-plan-id='{seeded['Basic Package']}']")
        expect(basic).to_contain_text("€75.00")
        # Reloading, the browser asks with the ETag it holds (the server answers 304).
        assert shop.reload().request.all_headers().get("if-none-match") == etag

        _log_in_as_staff(page, live_server.url, make_user)
        page.get_by_role("link", name="Manage plans").click()
        expect(page.get_by_role("heading", name="Plans")).to_be_visible()
        check_page(page, "staff-plans")
        assert _cells_cut_off(page) == []  # at phone size, the price and status show
        page.get_by_role("link", name="Basic Package").click()
        expect(page.get_by_label("Price in EUR (required)")).to_have_value("75.00")
        check_page(page, "staff-plan-edit")
        page.get_by_label("Name").fill("Starter Package")
        page.get_by_label("Price in EUR (required)").fill("69.00")
        page.get_by_role("button", name="Save").click()
        expect(_flash(page)).to_contain_text("Plan “Starter Package” saved.")
        edited = page.get_by_role("row", name=re.compile(r"Starter Package.*€69\.00"))
        expect(edited).to_be_visible()

        # The student's next page load, revalidating with the old ETag, gets the new plan.
        changed = shop.reload()
        assert changed.request.all_headers().get("if-none-match") == etag
        assert changed.headers["etag"] != etag
        expect(basic).to_contain_text("Starter Package")
        expect(basic).to_contain_text("€69.00")
        expect(basic).not_to_contain_text("€75.00")
        expect(shop.get_by_role("link", name="Buy Basic Package")).to_have_count(0)
        shop.goto(live_server.url + "/")  # a fresh navigation too
        expect(basic).to_contain_text("€69.00")
        # And the shop's JSON shows it too.
        plans = shop.request.get(live_server.url + "/api/finances/api/pricing-plans/").json()
        assert {(p["name"], p["price_eur"]) for p in plans} >= {("Starter Package", "69.00")}
    finally:
        student.close()
    with app.app_context():
        plan = db.session.get(PricingPlan, seeded["Basic Package"])
        assert (plan.name, plan.price_minor) == ("Starter Package", 6900)


STAFF_PAGES = ["Manage plans", "Subscriptions", "Expired packages", "Declined payments",
               "Undelivered mail", "Webhook log"]


def test_every_staff_page_is_one_tap_away_and_fits_a_phone(page: Page, app, make_user, buy,
                                                           live_server):
    buy("Basic Package")  # something in the webhook log and the plans' history
    _log_in_as_staff(page, live_server.url, make_user)
    menu = page.get_by_role("navigation", name="Staff pages")
    for name in STAFF_PAGES:
        box = menu.get_by_role("link", name=name, exact=True).bounding_box()
        assert box is not None and box["height"] >= 44, (name, box)
    for name in STAFF_PAGES:
        page.goto(live_server.url + "/staff")
        page.get_by_role("navigation", name="Staff pages").get_by_role(
            "link", name=name, exact=True).click()
        expect(page.locator("h1")).to_be_visible()
        check_page(page, "staff-" + name)
        assert _cells_cut_off(page) == [], name
    # The webhook log's filters are a menu of full-size links, one per outcome.
    filters = page.get_by_role("navigation", name="Events by outcome").get_by_role("link")
    expect(filters).to_have_count(4)
    expect(filters.first).to_have_attribute("aria-current", "page")
