"""Subscription and invoice events (Stripe-shaped, signed): each paid month credited once,
the subscription's state never moved backwards."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from storefront.extensions import db
from storefront.ledger import verify_ledger
from storefront.models import (
    LedgerEntry,
    Lot,
    OutgoingMail,
    PricingPlan,
    Purchase,
    Subscription,
)
from tests.support import deliver, pay, post_webhooks_at_once, signed_event
from tests.webhooks.billing_objects import DAY, invoice_object, subscription_object

PLAN = "Student Subscription"  # 900 minutes for 119.00 a month


@pytest.fixture
def owner(seeded, make_user):
    """A student and the subscription plan, as the subscription's metadata names them."""
    return {"student_id": make_user(), "plan_id": seeded[PLAN]}


def credits(app, student_id) -> list[tuple[int, datetime | None]]:
    """The student's purchase credits (minutes, lot expiry); the ledger checked sound."""
    with app.app_context():
        assert verify_ledger() == []
        rows = db.session.execute(
            db.select(LedgerEntry.minutes, Lot.expires_at).join(Lot)
            .where(LedgerEntry.student_id == student_id, LedgerEntry.kind == "purchase_credit")
            .order_by(LedgerEntry.id)).all()
        return [tuple(row) for row in rows]


def subscription_state(app, sub_id: str) -> tuple | None:
    with app.app_context():
        row = db.session.scalars(db.select(Subscription).where(
            Subscription.stripe_subscription_id == sub_id)).first()
        return row and (row.status, row.cancel_at_period_end, row.current_period_end)


def test_invoice_paid_credits_the_month_once_until_period_end(app, client, owner):
    start = int(time.time()) - DAY
    invoice = invoice_object("in_1", "sub_1", period_start=start, **owner)
    assert deliver(client, "invoice.paid", invoice).status_code == 200
    period_end = datetime.fromtimestamp(start + 30 * DAY, UTC)
    assert credits(app, owner["student_id"]) == [(900, period_end)]
    # Stripe's companion event for the same invoice, and a redelivery: nothing more.
    assert deliver(client, "invoice.payment_succeeded", invoice).status_code == 200
    assert deliver(client, "invoice.paid", invoice).status_code == 200
    assert credits(app, owner["student_id"]) == [(900, period_end)]
    with app.app_context():
        purchase = db.session.scalars(db.select(Purchase)).one()
        assert (purchase.status, purchase.price_minor, purchase.stripe_invoice_id,
                purchase.expires_at) == ("completed", 11900, "in_1", period_end)
    # The next month is a lot of its own.
    deliver(client, "invoice.paid",
            invoice_object("in_2", "sub_1", period_start=start + 30 * DAY - 2 * DAY, **owner))
    assert [m for m, _ in credits(app, owner["student_id"])] == [900, 900]


def test_grace_hours_extend_the_month(make_app, owner):
    app = make_app(SUBSCRIPTION_GRACE_HOURS=48)
    start = int(time.time()) - DAY
    deliver(app.test_client(), "invoice.paid",
            invoice_object("in_g", "sub_g", period_start=start, **owner))
    expected = datetime.fromtimestamp(start + 30 * DAY, UTC) + timedelta(hours=48)
    assert credits(app, owner["student_id"]) == [(900, expected)]


def test_invoice_of_an_unknown_subscription_without_our_metadata_is_ignored(app, client,
                                                                            owner):
    invoice = invoice_object("in_x", "sub_x", period_start=int(time.time()) - DAY)
    assert deliver(client, "invoice.paid", invoice).status_code == 200
    assert credits(app, owner["student_id"]) == []
    assert subscription_state(app, "sub_x") is None


def test_twenty_concurrent_invoice_deliveries_credit_once(app, owner, live_server):
    invoice = invoice_object("in_storm", "sub_storm", period_start=int(time.time()) - DAY,
                             **owner)
    deliveries = [signed_event("invoice.paid", invoice, event_id="evt_inv_storm")
                  for _ in range(10)]
    deliveries += [signed_event(kind, invoice, event_id=f"evt_inv_{n}")
                   for n, kind in enumerate(["invoice.paid", "invoice.payment_succeeded"] * 5)]
    assert post_webhooks_at_once(live_server.url, deliveries) == [200] * 20
    assert [m for m, _ in credits(app, owner["student_id"])] == [900]


def test_older_subscription_update_after_a_newer_changes_nothing(app, client, owner):
    now = int(time.time())
    newer = subscription_object("sub_o", start=now, cancel_at_period_end=True, **owner)
    older = subscription_object("sub_o", start=now - 30 * DAY, **owner)
    deliver(client, "customer.subscription.updated", newer, created=now)
    deliver(client, "customer.subscription.updated", older, created=now - 60)
    assert subscription_state(app, "sub_o") == (
        "active", True, datetime.fromtimestamp(now + 30 * DAY, UTC))


def test_a_month_paid_after_a_switch_credits_the_plan_it_was_billed_as(app, client, owner,
                                                                        seeded):
    with app.app_context():
        for name, price in ((PLAN, "price_student"), ("Family Subscription", "price_family")):
            db.session.get(PricingPlan, seeded[name]).stripe_price_id = price
        db.session.commit()
    now = int(time.time())
    # The student switched to the family plan from the next month; this month's invoice,
    # billed at the student plan's Price, is paid after the switch was seen.
    deliver(client, "customer.subscription.updated",
            subscription_object("sub_s", start=now, price="price_family", **owner),
            created=now)
    deliver(client, "invoice.paid", invoice_object("in_s1", "sub_s", period_start=now,
                                                   price="price_student", **owner))
    deliver(client, "invoice.paid", invoice_object("in_s2", "sub_s", amount=29900,
                                                   period_start=now + 30 * DAY,
                                                   price="price_family", **owner))
    with app.app_context():
        months = db.session.execute(db.select(Purchase.plan_name, Purchase.minutes,
                                              Purchase.price_minor).order_by(Purchase.id))
        assert [tuple(m) for m in months] == [(PLAN, 900, 11900),
                                              ("Family Subscription", 3000, 29900)]


def test_deleted_subscription_is_canceled_and_stays_so(app, client, owner):
    now = int(time.time())
    deliver(client, "customer.subscription.created",
            subscription_object("sub_d", status="incomplete", start=now, **owner),
            created=now - 5)
    ended = subscription_object("sub_d", status="canceled", start=now, canceled_at=now,
                                ended_at=now, **owner)
    deliver(client, "customer.subscription.deleted", ended, created=now)
    # An update Stripe made in the same second, delivered late, cannot reopen it.
    deliver(client, "customer.subscription.updated",
            subscription_object("sub_d", status="active", start=now, **owner), created=now)
    assert subscription_state(app, "sub_d")[0] == "canceled"


def test_failed_renewal_marks_past_due_and_emails_the_student(app, client, owner):
    now = int(time.time())
    deliver(client, "customer.subscription.created",
            subscription_object("sub_f", start=now - 31 * DAY, **owner), created=now - 31 * DAY)
    deliver(client, "invoice.paid",
            invoice_object("in_f1", "sub_f", period_start=now - 31 * DAY, **owner))
    failed = invoice_object("in_f2", "sub_f", period_start=now - DAY, status="open", **owner)
    assert deliver(client, "invoice.payment_failed", failed,
                   created=now).status_code == 200
    assert subscription_state(app, "sub_f")[0] == "past_due"
    with app.app_context():
        mail = db.session.scalars(db.select(OutgoingMail).where(
            OutgoingMail.template == "subscription_payment_failed")).one()
        assert mail.to_address == "sam@example.com"
        assert "Student Subscription" in mail.subject
        assert "update your card" in mail.body
    # The retry succeeds: that month is credited, once.
    paid = invoice_object("in_f2", "sub_f", period_start=now - DAY, **owner)
    deliver(client, "invoice.paid", paid)
    deliver(client, "invoice.payment_succeeded", paid)
    assert [m for m, _ in credits(app, owner["student_id"])] == [900, 900]
    # A failure of the month already paid, delivered late, is old news.
    deliver(client, "customer.subscription.updated",
            subscription_object("sub_f", start=now - DAY, **owner), created=now + 1)
    deliver(client, "invoice.payment_failed", failed, created=now + 2)
    assert subscription_state(app, "sub_f")[0] == "active"


def test_refund_of_the_invoice_charge_reverses_that_month(app, client, owner,
                                                          stripe_emulator):
    # A real charge at the emulator stands for the invoice's payment.
    stripe = stripe_emulator.client()
    intent = stripe.v1.payment_intents.create(params={"amount": 11900, "currency": "eur"})
    pay(stripe_emulator, intent.id)
    start = int(time.time()) - DAY
    deliver(client, "invoice.paid", invoice_object("in_r1", "sub_r", period_start=start - 30 * DAY,
                                                   **owner))
    deliver(client, "invoice.paid", invoice_object("in_r2", "sub_r", period_start=start,
                                                   payment_intent=intent.id, **owner))
    refund = stripe.v1.refunds.create(params={"payment_intent": intent.id})
    charge = stripe.v1.charges.retrieve(refund.charge).to_dict()
    assert deliver(client, "charge.refunded", charge).status_code == 200
    with app.app_context():
        assert verify_ledger() == []
        rows = db.session.execute(db.select(Purchase.stripe_invoice_id, Purchase.status,
                                            Lot.minutes_remaining).join(Lot)
                                  .order_by(Purchase.id)).all()
        assert [tuple(r) for r in rows] == [("in_r1", "completed", 900),
                                            ("in_r2", "refunded", 0)]


def test_dispute_of_the_invoice_charge_holds_that_month_until_it_is_won(app, client, owner,
                                                                        stripe_emulator):
    stripe = stripe_emulator.client()
    intent = stripe.v1.payment_intents.create(params={"amount": 11900, "currency": "eur"})
    pay(stripe_emulator, intent.id)
    start = int(time.time()) - DAY
    deliver(client, "invoice.paid", invoice_object("in_d1", "sub_dp", period_start=start - 30 * DAY,
                                                   **owner))
    deliver(client, "invoice.paid", invoice_object("in_d2", "sub_dp", period_start=start,
                                                   payment_intent=intent.id, **owner))
    charge = stripe.v1.payment_intents.retrieve(intent.id).to_dict()["latest_charge"]
    dispute = {"id": "dp_month", "object": "dispute", "amount": 11900, "currency": "eur",
               "charge": charge if isinstance(charge, str) else charge["id"],
               "payment_intent": intent.id, "status": "needs_response", "reason": "fraudulent"}

    def months():
        with app.app_context():
            assert verify_ledger() == []
            return [tuple(r) for r in db.session.execute(
                db.select(Purchase.stripe_invoice_id, Lot.minutes_remaining, Lot.minutes_on_hold)
                .join(Lot).order_by(Purchase.id)).all()]

    assert deliver(client, "charge.dispute.created", dispute).status_code == 200
    assert months() == [("in_d1", 900, 0), ("in_d2", 0, 900)]
    assert deliver(client, "charge.dispute.closed", {**dispute, "status": "won"}).status_code == 200
    assert months() == [("in_d1", 900, 0), ("in_d2", 900, 0)]


def test_invoice_without_its_payments_asks_stripe_which_payment_paid_it(make_app, owner,
                                                                        stripe_stub):
    """Stripe leaves `payments` out of an event's invoice unless expanded: the PaymentIntent
    (which refunds and disputes name) is read from the invoice's payments at Stripe."""
    app = make_app(STRIPE_API_BASE=stripe_stub.base_url)
    stripe_stub.respond_at("/v1/invoice_payments", 200, {
        "object": "list", "has_more": False, "url": "/v1/invoice_payments", "data": [{
            "id": "inpay_1", "object": "invoice_payment", "invoice": "in_np",
            "status": "paid", "is_default": True, "amount_paid": 11900, "currency": "eur",
            "payment": {"type": "payment_intent", "payment_intent": "pi_from_stripe"}}]})
    invoice = invoice_object("in_np", "sub_np", period_start=int(time.time()) - DAY, **owner)
    del invoice["payments"]
    assert deliver(app.test_client(), "invoice.paid", invoice).status_code == 200
    assert stripe_stub.requests == ["GET /v1/invoice_payments?invoice=in_np"]
    with app.app_context():
        purchase = db.session.scalars(db.select(Purchase)).one()
        assert (purchase.stripe_invoice_id, purchase.payment_intent_id) == (
            "in_np", "pi_from_stripe")
