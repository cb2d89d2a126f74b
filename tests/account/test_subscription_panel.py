"""The subscription as the student sees it: the dashboard panel and subscription_info in the
student-balance summary, both from the rows Stripe's events left."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from storefront.formatting import date_display
from tests.account.test_guest_claim_and_dashboard import visible_text
from tests.stripe_stub import DAY, billing_subscription
from tests.webhooks.billing_objects import invoice_object

SUMMARY = "/api/finances/api/student-balance/summary/"


def day(stamp: int) -> str:
    return date_display(datetime.fromtimestamp(stamp, UTC))  # "5 Mar 2026", "5 Sept 2026"


def iso(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat().replace("+00:00", "Z")


def panel(client) -> str:
    html = client.get("/account").get_data(as_text=True)
    match = re.search(r'<section class="subscription".*?</section>', html, re.S)
    assert match, "no subscription panel on the dashboard"
    return visible_text(match.group(0))


def test_dashboard_shows_plan_status_period_next_payment_and_this_months_hours(subscribed):
    s = subscribed("Student Subscription")
    text = panel(s.client)
    end = s.start + 30 * DAY
    assert "Student Subscription" in text
    assert "Active" in text
    assert f"{day(s.start)} – {day(end)}" in text
    assert f"Next payment €119.00 on {day(end)}" in text
    assert "15 hours credited, 15 hours left" in text
    assert "Access stops" not in text


def test_dashboard_says_when_access_stops_after_a_cancellation(subscribed):
    s = subscribed()
    end = s.start + 30 * DAY
    s.event("customer.subscription.updated", billing_subscription(
        s.sub_id, price_id="price_x", start=s.start, cancel_at_period_end=True, **s.owner()))
    text = panel(s.client)
    assert f"Cancelled: access stops on {day(end)}" in text
    assert "Next payment" not in text


def test_dashboard_of_a_past_due_subscription_offers_to_update_the_card(subscribed):
    s = subscribed()
    s.event("invoice.payment_failed", invoice_object(
        "in_2", s.sub_id, period_start=s.start + 30 * DAY, status="open", **s.owner()))
    html = s.client.get("/account").get_data(as_text=True)
    text = panel(s.client)
    assert "Payment failed" in text
    assert 'href="/account/subscription/card"' in html


def test_no_subscription_no_panel(app, client, make_user):
    from tests.conftest import log_in

    make_user()
    log_in(client, "sam@example.com")
    assert '<section class="subscription"' not in client.get("/account").get_data(as_text=True)
    info = client.get(SUMMARY).get_json()["subscription_info"]
    assert info == {"has_active_subscription": False, "subscription": None}


def test_balance_summary_reports_the_subscription(subscribed):
    s = subscribed()
    end = s.start + 30 * DAY
    info = s.client.get(SUMMARY).get_json()["subscription_info"]
    assert info == {
        "has_active_subscription": True,
        "subscription": {
            "is_active": True, "subscription_status": "active", "billing_cycle": "monthly",
            "plan_name": "Student Subscription", "next_billing_date": iso(end),
            "cancel_at_period_end": False, "current_period_start": iso(s.start),
            "current_period_end": iso(end)},
    }
    s.event("customer.subscription.updated", billing_subscription(
        s.sub_id, price_id="price_x", start=s.start, cancel_at_period_end=True, **s.owner()))
    sub = s.client.get(SUMMARY).get_json()["subscription_info"]["subscription"]
    assert (sub["cancel_at_period_end"], sub["next_billing_date"], sub["is_active"]) == (
        True, None, True)


def test_balance_summary_of_an_ended_subscription(subscribed):
    s = subscribed()
    s.event("customer.subscription.deleted", billing_subscription(
        s.sub_id, price_id="price_x", start=s.start, status="canceled", **s.owner()))
    info = s.client.get(SUMMARY).get_json()["subscription_info"]
    assert info["has_active_subscription"] is False
    assert (info["subscription"]["subscription_status"], info["subscription"]["is_active"],
            info["subscription"]["next_billing_date"]) == ("canceled", False, None)


def test_a_paid_month_shows_its_period_and_next_payment_before_stripes_subscription_event(
        app, client, seeded, make_user):
    """The first month's invoice can be reported (by its event or the complete page) before
    Stripe's customer.subscription.* event: the student who just paid already sees the
    period and when the next payment is."""
    from tests.conftest import log_in
    from tests.support import deliver

    student_id = make_user()
    start = int(time.time()) - 60
    invoice = invoice_object("in_first", "sub_early", period_start=start, student_id=student_id,
                             plan_id=seeded["Student Subscription"])
    assert deliver(client, "invoice.paid", invoice).status_code == 200
    log_in(client, "sam@example.com")
    end = start + 30 * DAY
    text = panel(client)
    assert f"Next payment €119.00 on {day(end)}" in text
    assert f"{day(start)} – {day(end)}" in text
    sub = client.get(SUMMARY).get_json()["subscription_info"]["subscription"]
    assert (sub["subscription_status"], sub["next_billing_date"]) == ("active", iso(end))
