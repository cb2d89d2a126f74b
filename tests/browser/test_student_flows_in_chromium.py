"""A student's account in a real Chromium: registering and resetting a password by the emailed
link, a guest claiming the account a purchase made, a logged-in purchase, the dashboard with a
session and a package about to expire, and a receipt. Every page is audited (pages.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from storefront import ledger
from storefront.extensions import db
from storefront.models import User
from storefront.models.base import utcnow
from tests.browser.pages import blank_bands, check_page, enter_card
from tests.conftest import PASSWORD
from tests.support import WEBHOOK_PATH, pay, signed_event, start_purchase, wait_for

pytestmark = pytest.mark.browser

NEW_PASSWORD = "quiet-meadow-copper-77"


def _emailed_link(mailbox, email: str, live_url: str) -> str:
    """The last link mailed to the address, on the live server (the mail worker may have
    built it for another host)."""
    wait_for(lambda: mailbox.to(email))
    parts = urlsplit(mailbox.last_link(email))
    return live_url + parts.path + (f"?{parts.query}" if parts.query else "")


def _log_in(page: Page, base_url: str, email: str, password: str) -> None:
    page.goto(base_url + "/account/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def _log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are logged out.")).to_be_visible()


def _pay_with_test_card(page: Page, button: re.Pattern) -> None:
    pay_button = page.get_by_role("button", name=button)
    expect(pay_button).to_be_enabled()
    enter_card(page)
    pay_button.click()
    page.wait_for_url(re.compile(r"/checkout/complete\?payment_intent=pi_"))


def cut_off_tables(page: Page) -> list[str]:
    """Tables wider than their box at the window's current size (part of them hidden behind a
    sideways scroll), as 'heading: table width > box width'."""
    return page.evaluate("""() => [...document.querySelectorAll('.table-wrap')]
        .filter(wrap => wrap.scrollWidth > wrap.clientWidth)
        .map(wrap => `${wrap.closest('section')?.querySelector('h2')?.innerText || '?'}: `
                     + `${wrap.scrollWidth} > ${wrap.clientWidth}`)""")


def _available_minutes(app, email: str) -> int:
    with app.app_context():
        user = db.session.scalars(db.select(User).where(User.email == email)).one()
        return ledger.student_statement(user)["available_minutes"]


def test_a_new_student_registers_by_the_emailed_link_then_logs_in(page: Page, app,
                                                                  live_server, mailbox):
    page.goto(live_server.url + "/account/login")
    check_page(page, "login")
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    check_page(page, "register")
    assert blank_bands(page, "main form") == []
    page.get_by_label("Your name").fill("Rita Nova")
    page.get_by_label("Email").fill("rita@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    check_page(page, "register-check-email")

    page.goto(_emailed_link(mailbox, "rita@example.com", live_server.url))
    expect(page.get_by_role("heading", name="Confirm your account")).to_be_visible()
    check_page(page, "register-confirm")
    assert blank_bands(page, "main form") == []
    page.get_by_role("button", name="Confirm and log in").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_text("Welcome! Your account is ready.")).to_be_visible()
    expect(page.get_by_role("heading", name="Hello, Rita Nova")).to_be_visible()
    expect(page.get_by_text("No active packages")).to_be_visible()

    _log_out(page)
    _log_in(page, live_server.url, "rita@example.com", "not-the-password-1")
    expect(page.get_by_role("alert")).to_have_text("Incorrect email or password.")
    check_page(page, "login-failed")
    assert blank_bands(page, "main form") == []
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Hello, Rita Nova")).to_be_visible()


def test_a_student_resets_the_password_by_the_emailed_link(page: Page, app, make_user,
                                                           live_server, mailbox):
    make_user("sam@example.com", "Sam Student")
    page.goto(live_server.url + "/account/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    check_page(page, "password-forgot")
    assert blank_bands(page, "main form") == []
    page.get_by_label("Email").fill("sam@example.com")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    page.goto(_emailed_link(mailbox, "sam@example.com", live_server.url))
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    check_page(page, "password-reset")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("Repeat the password").fill(NEW_PASSWORD + "x")
    page.get_by_role("button", name="Save password").click()
    expect(page.get_by_label("Repeat the password")).to_have_attribute("aria-invalid", "true")
    check_page(page, "password-reset-error")
    assert blank_bands(page, "main form") == []
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("Repeat the password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save password").click()
    expect(page.get_by_text("Your password is set.")).to_be_visible()
    expect(page.get_by_role("heading", name="Hello, Sam Student")).to_be_visible()

    _log_out(page)
    _log_in(page, live_server.url, "sam@example.com", PASSWORD)  # the old one is gone
    expect(page.get_by_role("alert")).to_have_text("Incorrect email or password.")
    _log_in(page, live_server.url, "sam@example.com", NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Hello, Sam Student")).to_be_visible()


def test_a_guest_claims_the_account_by_the_emailed_link_and_sees_the_hours(
        page: Page, app, seeded, live_server, mailbox):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Buy Basic Package").click()
    page.get_by_label("Your name").fill("Ana Silva")
    page.get_by_label("Email").fill("ana@example.com")
    page.get_by_role("button", name="Continue to payment").click()
    _pay_with_test_card(page, re.compile(r"^Pay €75\.00"))
    expect(page.get_by_text("We have emailed ana@example.com a confirmation")).to_be_visible()

    page.goto(_emailed_link(mailbox, "ana@example.com", live_server.url))
    expect(page.get_by_role("heading", name="Set a password for your account")).to_be_visible()
    expect(page.get_by_text("For ana@example.com.")).to_be_visible()
    check_page(page, "claim")
    assert blank_bands(page, "main form") == []
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("Repeat the password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save password").click()

    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_role("heading", name="Hello, Ana Silva")).to_be_visible()
    expect(page.locator("[data-available-minutes]")).to_have_text("5.00")
    expect(page.locator("li.package").filter(has_text="Basic Package")).to_contain_text(
        "5 hours left of 5 hours")
    assert _available_minutes(app, "ana@example.com") == 300

    # The link works once: followed again, it says so.
    page.goto(_emailed_link(mailbox, "ana@example.com", live_server.url))
    expect(page.get_by_role("heading", name="This link cannot be used")).to_be_visible()


def test_a_logged_in_student_buys_a_package(page: Page, app, seeded, make_user, live_server,
                                            mailbox):
    make_user("sam@example.com", "Sam Student")
    _log_in(page, live_server.url, "sam@example.com", PASSWORD)
    expect(page.get_by_text("No active packages")).to_be_visible()
    page.get_by_role("link", name="Choose a package").click()
    page.get_by_role("link", name="Buy Standard Package").click()
    expect(page.get_by_text("Buying as Sam Student (sam@example.com).")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_count(0)  # nothing to type: the account pays
    check_page(page, "checkout-logged-in")
    assert blank_bands(page, "main form") == []
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_text("Hours go to sam@example.com.")).to_be_visible()
    _pay_with_test_card(page, re.compile(r"^Pay €140\.00"))

    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.get_by_text("10 hours")).to_be_visible()
    page.get_by_role("link", name="See my hours").click()
    expect(page.locator("[data-available-minutes]")).to_have_text("10.00")
    expect(page.locator("li.package").filter(has_text="Standard Package")).to_contain_text(
        "expires in 45 days")
    assert _available_minutes(app, "sam@example.com") == 600
    wait_for(lambda: mailbox.to("sam@example.com"))
    assert "added to your account" in mailbox.to("sam@example.com")[-1]["Subject"]


def _paid_days_ago(app, client, stripe_emulator, plan_id: int, days: int) -> int:
    """Sam's package, paid at Stripe `days` days ago; Stripe's event (dated then) credits it,
    so its validity runs from then. Returns the purchase id."""
    started = start_purchase(client, plan_id, email="sam@example.com", name="Sam Student")
    intent = pay(stripe_emulator, started["payment_intent_id"])
    paid_at = datetime.now(UTC) - timedelta(days=days)
    payload, headers = signed_event("payment_intent.succeeded", intent,
                                    created=int(paid_at.timestamp()))
    assert client.post(WEBHOOK_PATH, data=payload, headers=headers).status_code == 200
    return started["transaction_id"]


def test_the_dashboard_shows_a_recorded_session_and_a_package_expiring_in_3_days(
        page: Page, app, client, seeded, make_user, stripe_emulator, request):
    # Served only once the state is arranged: the emulator's own events (dated now) go
    # nowhere until then, so the backdated ones below are what credits the hours.
    sam = make_user("sam@example.com", "Sam Student")
    # The Basic Package (5 hours, valid 30 days) was paid 27 days ago; the Premium one today.
    expiring = _paid_days_ago(app, client, stripe_emulator, seeded["Basic Package"], 27)
    _paid_days_ago(app, client, stripe_emulator, seeded["Premium Package"], 0)
    with app.app_context():  # the tutor records a 90-minute session, as the staff page does
        ledger.consume_minutes(student_id=sam, minutes=90, session_ref="algebra-week-3",
                               now=utcnow())
        db.session.commit()

    live_server = request.getfixturevalue("live_server")
    _log_in(page, live_server.url, "sam@example.com", PASSWORD)
    expect(page.locator("[data-available-minutes]")).to_have_text("23.50")
    basic = page.locator(f"li.package[data-transaction-id='{expiring}']")
    expect(basic).to_contain_text("3.5 hours left of 5 hours")
    warning = basic.locator(".expiry")
    expect(warning).to_contain_text("expires in 3 days")
    expect(basic).to_have_class(re.compile(r"\bexpiring\b"))
    premium = page.locator("li.package").filter(has_text="Premium Package")
    expect(premium).not_to_have_class(re.compile(r"\bexpiring\b"))
    session_row = page.locator("tr[data-session-ref='algebra-week-3']")
    expect(session_row).to_contain_text("algebra-week-3")
    expect(session_row).to_contain_text("1.50")
    check_page(page, "dashboard")
    assert cut_off_tables(page) == []  # at phone size, every column in view

    page.get_by_role("link", name="Basic Package").click()
    expect(page.get_by_role("heading", name="Receipt")).to_be_visible()
    receipt = page.locator("dl.receipt")
    expect(receipt).to_contain_text(f"Purchase #{expiring}")
    expect(receipt).to_contain_text("€75.00")
    expect(receipt).to_contain_text("Sam Student <sam@example.com>")
    expires = (utcnow() + timedelta(days=3)).strftime("%-d %B %Y")
    expect(receipt.locator("dd").filter(has_text=expires)).to_have_count(1)
    check_page(page, "receipt")
