"""Paid invoices beyond the plain case: a free month (trial, 100% coupon) credits its hours,
and a paid invoice brings an incomplete or past-due subscription back to active by Stripe's
clock, never reopening one that ended."""

from __future__ import annotations

import time

import pytest

from storefront.extensions import db
from storefront.ledger import verify_ledger
from storefront.models import Lot, Purchase, Subscription
from tests.support import deliver
from tests.webhooks.billing_objects import DAY, invoice_object, subscription_object

PLAN = "Student Subscription"  # 900 minutes for 119.00 a month


@pytest.fixture
def owner(seeded, make_user):
    return {"student_id": make_user(), "plan_id": seeded[PLAN]}


def status_of(app, sub_id: str) -> str:
    with app.app_context():
        return db.session.scalars(db.select(Subscription.status).where(
            Subscription.stripe_subscription_id == sub_id)).one()


def test_a_free_paid_month_credits_the_plans_hours(app, client, owner):
    invoice = invoice_object("in_free", "sub_free", period_start=int(time.time()) - DAY,
                             amount=0, **owner)
    assert invoice["payments"]["data"] == []  # no PaymentIntent for a 0.00 invoice
    assert deliver(client, "invoice.paid", invoice).status_code == 200
    assert deliver(client, "invoice.payment_succeeded", invoice).status_code == 200
    with app.app_context():
        assert verify_ledger() == []
        rows = db.session.execute(db.select(
            Purchase.price_minor, Purchase.payment_intent_id, Purchase.status,
            Lot.minutes_granted).join(Lot)).all()
        assert [tuple(row) for row in rows] == [(0, None, "completed", 900)]


def test_invoice_paid_activates_an_incomplete_subscription(app, client, owner):
    now = int(time.time())
    deliver(client, "customer.subscription.created",
            subscription_object("sub_i", status="incomplete", start=now, **owner),
            created=now - 5)
    deliver(client, "invoice.paid", invoice_object("in_i", "sub_i", period_start=now, **owner),
            created=now)
    assert status_of(app, "sub_i") == "active"
    # The creation event's state, delivered late, is older: it stays active.
    deliver(client, "customer.subscription.updated",
            subscription_object("sub_i", status="incomplete", start=now, **owner),
            created=now - 3)
    assert status_of(app, "sub_i") == "active"


def test_invoice_paid_brings_a_past_due_subscription_back(app, client, owner):
    now = int(time.time())
    deliver(client, "invoice.paid",
            invoice_object("in_p1", "sub_p", period_start=now - 31 * DAY, **owner),
            created=now - 31 * DAY)
    failed = invoice_object("in_p2", "sub_p", period_start=now - DAY, status="open", **owner)
    deliver(client, "invoice.payment_failed", failed, created=now - 60)
    assert status_of(app, "sub_p") == "past_due"
    # An older month's payment event, delivered late, does not undo the failure.
    deliver(client, "invoice.payment_succeeded",
            invoice_object("in_p1", "sub_p", period_start=now - 31 * DAY, **owner),
            created=now - 31 * DAY, event_id="evt_late_p1")
    assert status_of(app, "sub_p") == "past_due"
    deliver(client, "invoice.paid",
            invoice_object("in_p2", "sub_p", period_start=now - DAY, **owner), created=now)
    assert status_of(app, "sub_p") == "active"


def test_invoice_paid_never_reopens_an_ended_subscription(app, client, owner):
    now = int(time.time())
    deliver(client, "customer.subscription.deleted",
            subscription_object("sub_e", status="canceled", start=now, canceled_at=now,
                                ended_at=now, **owner), created=now)
    deliver(client, "invoice.paid", invoice_object("in_e", "sub_e", period_start=now, **owner),
            created=now + 5)
    assert status_of(app, "sub_e") == "canceled"


def test_incomplete_reported_in_the_same_second_as_active_does_not_undo_it(app, client, owner):
    """Stripe never takes a subscription back to incomplete: the creation event, sent in the
    same second as the update that activated it and delivered after it, changes nothing."""
    now = int(time.time())
    deliver(client, "customer.subscription.updated",
            subscription_object("sub_same", status="active", start=now, **owner), created=now)
    deliver(client, "customer.subscription.created",
            subscription_object("sub_same", status="incomplete", start=now, **owner),
            created=now)
    assert status_of(app, "sub_same") == "active"
