"""Staff and subscriptions: the list by status, a student's subscription with its invoices,
and cancelling one at Stripe (now or at period end), confirmed, once per submission."""

from __future__ import annotations

import logging
import time

from storefront.extensions import db
from storefront.models import Subscription, WebhookEvent
from tests.billing.subscribed import fail_next_renewal, state, subscribe
from tests.conftest import csrf_token
from tests.staff.test_staff_pages import page_text
from tests.support import deliver, wait_for
from tests.webhooks.billing_objects import subscription_object

PLAN = "Student Subscription"


def test_subscriptions_listed_by_status_newest_first_and_paged(app, client, staff, seeded,
                                                                make_user):
    plan = seeded[PLAN]
    now = int(time.time())
    for n in range(52):
        student = make_user(f"s{n}@example.com", f"Student {n}")
        status = "past_due" if n % 2 else "active"
        deliver(client, "customer.subscription.created",
                subscription_object(f"sub_{n:02d}", status=status, start=now, student_id=student,
                                    plan_id=plan))
    page = staff.get("/staff/subscriptions").get_data(as_text=True)
    assert "All (52)" in page and "active (26)" in page and "past due (26)" in page
    assert "canceled (0)" in page
    assert page.index("sub_51") < page.index("sub_50")  # newest first
    assert "sub_01" not in page and "Page 1 of 2" in page
    second = staff.get("/staff/subscriptions?page=2").get_data(as_text=True)
    assert "sub_01" in second and "sub_00" in second and "sub_51" not in second
    past_due = page_text(staff.get("/staff/subscriptions?status=past_due"))
    assert "sub_51" in past_due and "sub_50" not in past_due
    assert staff.get("/staff/subscriptions?status=nonsense").status_code == 404
    assert 'href="/staff/subscriptions"' in page  # in the staff layout's navigation


def test_student_page_shows_the_subscription_and_its_invoices(
        app, staff, live_server, seeded, make_user, stripe_emulator):
    sam = make_user()
    sub_id = subscribe(app, stripe_emulator, sam, seeded[PLAN])
    fail_next_renewal(app, stripe_emulator, sub_id)
    stripe = stripe_emulator.client()
    invoices = stripe.v1.invoices.list(params={"subscription": sub_id}).data
    paid = next(i.id for i in invoices if i.status == "paid")
    unpaid = next(i.id for i in invoices if i.status == "open")

    text = page_text(staff.get(f"/staff/students/{sam}"))

    assert f"Student Subscription · past due {sub_id}" in text
    assert f"{paid} (purchase #1)" in text and "119.00" in text and "credited · completed" in text
    assert f"{unpaid} " in text and "not credited · open at Stripe" in text


def deleted_events(app, sub_id: str) -> int:
    with app.app_context():
        return len(db.session.scalars(db.select(WebhookEvent.id).where(
            WebhookEvent.type == "customer.subscription.deleted",
            WebhookEvent.payload.contains(f'"{sub_id}"'))).all())


def _cancel(staff, subscription_id: int, **fields):
    return staff.post(f"/staff/subscriptions/{subscription_id}/cancel", data={
        "csrf_token": csrf_token(staff), "request_key": "key-1", **fields},
        follow_redirects=True)


def _ours(app, sub_id: str) -> int:
    with app.app_context():
        return db.session.scalars(db.select(Subscription.id).where(
            Subscription.stripe_subscription_id == sub_id)).one()


def test_cancel_at_period_end_needs_confirmation_and_reaches_stripe(
        app, staff, live_server, seeded, make_user, stripe_emulator, caplog):
    sam = make_user()
    sub_id = subscribe(app, stripe_emulator, sam, seeded[PLAN])
    ours = _ours(app, sub_id)
    stripe = stripe_emulator.client()

    unconfirmed = page_text(_cancel(staff, ours, when="period_end"))
    assert "Tick the box to confirm." in unconfirmed
    assert stripe.v1.subscriptions.retrieve(sub_id).cancel_at_period_end is False

    with caplog.at_level(logging.INFO, logger="storefront.billing.cancellation"):
        done = page_text(_cancel(staff, ours, when="period_end", confirm="y"))
    assert "The subscription ends at the end of its period." in done
    assert "ends at period end" in done
    assert stripe.v1.subscriptions.retrieve(sub_id).cancel_at_period_end is True
    assert state(app, sub_id)[0::2] == ("active", True)
    assert any("staff" in r.message and "at period end" in r.message and sub_id in r.message
               for r in caplog.records)
    again = page_text(_cancel(staff, ours, when="period_end", confirm="y"))
    assert "already ends at the end of its period" in again


def test_cancel_now_ends_it_and_the_late_webhook_keeps_it_ended(
        app, staff, live_server, seeded, make_user, stripe_emulator):
    sam = make_user()
    sub_id = subscribe(app, stripe_emulator, sam, seeded[PLAN])
    ours = _ours(app, sub_id)

    done = page_text(_cancel(staff, ours, when="now", confirm="y"))

    assert "The subscription is cancelled." in done
    assert state(app, sub_id)[0] == "canceled"
    assert stripe_emulator.client().v1.subscriptions.retrieve(sub_id).status == "canceled"
    # Stripe's customer.subscription.deleted arrives afterwards: still cancelled, once.
    wait_for(lambda: deleted_events(app, sub_id))
    assert state(app, sub_id)[0] == "canceled"
    assert "already ended" in page_text(_cancel(staff, ours, when="now", confirm="y"))
