"""A tour of every page a guest, a student and a staff member can reach in the browser,
including the states a person meets on the way (form errors, a declined card), calling a check
on each page as it stands."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from storefront.extensions import db
from storefront.models import Purchase, User
from tests.browser.pages import DECLINED_CARD, TEST_CARD, enter_card, log_in

Check = Callable[[Page, str], None]


def _pay(page: Page, number: str) -> None:
    enter_card(page, number)
    page.get_by_role("button", name=re.compile("^Pay")).click()


def tour(page: Page, app, seeded: dict, base: str, make_user, check: Check) -> list[str]:
    """Visit every reachable page; check(page, name) on each; return the names visited.
    `seeded` are the default plans with their Stripe Prices (the `synced` fixture)."""
    make_user("sam@example.com", "Sam Student")
    make_user("staff@example.com", "Staff Member", staff=True)
    visited: list[str] = []

    def here(name: str) -> None:
        check(page, name)
        visited.append(name)

    def visit(path: str, name: str) -> None:
        page.goto(base + path)
        here(name)

    # A guest: the plans, the checkout (with its errors), the pay page (with a decline).
    visit("/", "plans")
    visit(f"/checkout/{seeded['Basic Package']}", "checkout")
    page.get_by_label("Email").fill("not an address")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.locator(".field-error").first).to_be_visible()
    here("checkout with errors")
    page.goto(base + f"/checkout/{seeded['Basic Package']}")
    page.get_by_label("Your name").fill("Sam Student")
    page.get_by_label("Email").fill("sam@example.com")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_role("button", name=re.compile("^Pay"))).to_be_enabled()
    here("pay")
    page.get_by_role("button", name=re.compile("^Pay")).click()
    expect(page.locator(".pe-error")).to_be_visible()
    here("pay with an incomplete card")
    _pay(page, DECLINED_CARD)
    expect(page.locator("#payment-message")).to_contain_text(re.compile("declined", re.I))
    here("pay, card declined")
    _pay(page, TEST_CARD)
    page.wait_for_url(re.compile(r"/checkout/complete"))
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    here("complete")

    # Accounts.
    visit("/account/login", "login")
    page.get_by_label("Email").fill("sam@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    here("login failed")
    visit("/account/register", "register")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".field-error").first).to_be_visible()
    here("register with errors")
    visit("/account/password/forgot", "forgot password")
    visit("/no-such-page", "not found")

    # A student with hours, who then subscribes.
    log_in(page, base, "sam@example.com")
    here("dashboard")
    visit(f"/checkout/{seeded['Student Subscription']}", "checkout, subscription")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_role("button", name=re.compile("^Subscribe: pay"))).to_be_enabled()
    here("pay, subscription")
    enter_card(page)
    page.get_by_role("button", name=re.compile("^Subscribe: pay")).click()
    page.wait_for_url(re.compile(r"/checkout/complete"))
    expect(page.get_by_text("Your subscription is active")).to_be_visible()
    here("complete, subscription")
    visit("/account", "dashboard with a subscription")
    expect(page.get_by_role("heading", name="Your subscription")).to_be_visible()
    visit("/account/purchases", "purchases")
    with app.app_context():
        purchase_id = db.session.scalars(db.select(Purchase.id).join(
            User, Purchase.student_id == User.id).where(User.email == "sam@example.com")).first()
    visit(f"/account/purchases/{purchase_id}", "receipt")
    visit("/account/password", "change password")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()

    # Staff.
    log_in(page, base, "staff@example.com")
    visit("/staff", "staff search")
    visit("/staff?q=sam", "staff search results")
    page.get_by_role("link", name=re.compile("Sam Student")).first.click()
    expect(page.get_by_role("heading", name="Sam Student")).to_be_visible()
    here("staff student")
    for path, name in (("/staff/plans", "staff plans"),
                       (f"/staff/plans/{seeded['Basic Package']}", "staff plan edit"),
                       ("/staff/plans/new", "staff new plan"),
                       ("/staff/subscriptions", "staff subscriptions"),
                       ("/staff/declines", "staff declines"),
                       ("/staff/expiry", "staff expiry"),
                       ("/staff/mail", "staff mail"),
                       ("/staff/webhooks", "staff webhooks")):
        visit(path, name)
    return visited
