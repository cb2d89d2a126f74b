"""The pages a visitor sees when something is wrong, in a real Chromium: a page that does not
exist, too many attempts, and Stripe out of reach while a student pays. Each is audited and
photographed at phone and desktop size."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from storefront.extensions import db
from storefront.models import LedgerEntry, Purchase, User
from tests.browser.pages import check_page
from tests.support import LiveServer

pytestmark = pytest.mark.browser

UNREACHABLE = "We could not reach the payment service"


def _rows(app) -> tuple[list[tuple[int, str]], list[str], int]:
    """Purchases (id, status), accounts' emails and ledger entries in the database."""
    with app.app_context():
        purchases = [(p.id, p.status) for p in db.session.scalars(
            db.select(Purchase).order_by(Purchase.id))]
        emails = list(db.session.scalars(db.select(User.email)))
        entries = db.session.scalar(db.select(db.func.count()).select_from(LedgerEntry))
        return purchases, emails, entries


def _posted_to(path: str):
    """A response predicate: the answer to a POST to this path."""
    return lambda response: (response.request.method == "POST"
                             and response.url.endswith(path))


def _start_as_guest(page: Page, base_url: str, plan_id: int, email: str) -> None:
    page.goto(f"{base_url}/checkout/{plan_id}")
    page.get_by_label("Your name").fill("Ana Silva")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue to payment").click()


def test_a_page_that_does_not_exist(page: Page, app, live_server):
    response = page.goto(live_server.url + "/no-such-page")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    check_page(page, "error-404")
    page.get_by_role("link", name="See the plans").click()
    expect(page.get_by_role("heading", name="Packages")).to_be_visible()


def test_too_many_purchase_attempts_get_the_429_page(page: Page, make_app, seeded_with,
                                                     stripe_emulator):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_INITIATE_IP="2 per hour",
                   RATELIMIT_INITIATE_EMAIL="50 per hour")
    plan_id = seeded_with(app)
    server = LiveServer(app)
    try:
        for n in range(2):
            _start_as_guest(page, server.url, plan_id, f"guest{n}@example.com")
            expect(page).to_have_url(re.compile(r"/checkout/purchase/\d+/pay$"))
        with page.expect_response(_posted_to(f"/checkout/{plan_id}")) as answer:
            _start_as_guest(page, server.url, plan_id, "guest9@example.com")
        refused = answer.value
        assert refused.status == 429
        assert int(refused.headers["retry-after"]) > 0
        expect(page.get_by_role("heading", name="Too many attempts")).to_be_visible()
        check_page(page, "error-429")
        assert len(_rows(app)[0]) == 2  # the refused attempt started nothing
    finally:
        server.stop()


def test_stripe_out_of_reach_while_a_student_pays(page: Page, app, seeded, stripe_emulator,
                                                  closed_port, live_server):
    plan_id = seeded["Basic Package"]
    app.config["STRIPE_API_BASE"] = closed_port  # Stripe refuses every connection

    with page.expect_response(_posted_to(f"/checkout/{plan_id}")) as answer:
        _start_as_guest(page, live_server.url, plan_id, "ana@example.com")
    assert answer.value.status == 503
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(UNREACHABLE)
    # What she typed is still there, so trying again is one tap.
    expect(page.get_by_label("Your name")).to_have_value("Ana Silva")
    expect(page.get_by_label("Email")).to_have_value("ana@example.com")
    check_page(page, "error-stripe-unreachable-checkout")
    assert _rows(app) == ([], [], 0)  # nothing half-written: no purchase, no account

    app.config["STRIPE_API_BASE"] = stripe_emulator.base_url  # Stripe is back
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"/checkout/purchase/\d+/pay$"))
    [(purchase_id, status)] = _rows(app)[0]
    assert status == "pending"

    # Stripe goes away again while the payment page is open: reloading it says so plainly.
    app.config["STRIPE_API_BASE"] = closed_port
    assert page.reload().status == 503
    expect(page.get_by_role("heading", name="Please try again")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(UNREACHABLE)
    internals = re.compile(r"Traceback|Error:|urllib3|stripe\.", re.IGNORECASE)
    expect(page.get_by_text(internals)).to_have_count(0)
    check_page(page, "error-stripe-unreachable-pay")
    assert _rows(app) == ([(purchase_id, "pending")], ["ana@example.com"], 0)

    # Once Stripe answers again, one tap on the page's own button brings the payment back.
    app.config["STRIPE_API_BASE"] = stripe_emulator.base_url
    page.get_by_role("link", name="Try again").click()
    expect(page).to_have_url(re.compile(rf"/checkout/purchase/{purchase_id}/pay$"))
    expect(page.get_by_role("button", name=re.compile(r"^Pay €75\.00"))).to_be_enabled()
