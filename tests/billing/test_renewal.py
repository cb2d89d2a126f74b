"""Development-only renewal: the emulator starts the next billing period, charges the saved
card and sends Stripe's events; our webhooks credit the new month once, or mark the
subscription past due and email the student."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from storefront.billing.plans import sync_plan
from storefront.extensions import db
from storefront.ledger import verify_ledger
from storefront.models import (
    LedgerEntry,
    Lot,
    OutgoingMail,
    PricingPlan,
    Purchase,
    WebhookEvent,
)
from tests.billing.subscribed import fail_next_renewal, months, state, subscribe
from tests.conftest import csrf_token, log_in
from tests.support import wait_for

PLAN = "Student Subscription"  # 900 minutes for 119.00 a month


def received(app, kind: str, object_id: str) -> int:
    """How many `kind` events about this Stripe object reached our webhook."""
    with app.app_context():
        return len(db.session.scalars(db.select(WebhookEvent.id).where(
            WebhookEvent.type == kind, WebhookEvent.payload.contains(f'"{object_id}"'))).all())


def test_renewal_credits_the_second_month_once(app, live_server, seeded, make_user,
                                               stripe_emulator):
    sam = make_user()
    sub_id = subscribe(app, stripe_emulator, sam, seeded[PLAN])
    _, first_end, _ = state(app, sub_id)

    result = app.test_cli_runner().invoke(args=["stripe", "renew", sub_id])

    assert result.exit_code == 0, result.output
    assert "is active" in result.output
    stripe_sub = stripe_emulator.client().v1.subscriptions.retrieve(sub_id)
    renewal = stripe_sub.latest_invoice
    wait_for(lambda: received(app, "invoice.paid", renewal)
             and received(app, "invoice.payment_succeeded", renewal))
    wait_for(lambda: state(app, sub_id)[1] > first_end)
    new_end = datetime.fromtimestamp(stripe_sub["items"].data[0].current_period_end, UTC)
    assert state(app, sub_id) == ("active", new_end, False)
    with app.app_context():
        assert verify_ledger() == []
        rows = db.session.execute(db.select(Purchase.period_start, Purchase.period_end,
                                            Purchase.price_minor, Lot.expires_at)
                                  .join(Lot).order_by(Purchase.id)).all()
        assert tuple(rows[1]) == (first_end, new_end, 11900, new_end)
        credits = db.session.scalars(db.select(LedgerEntry.minutes).where(
            LedgerEntry.kind == "purchase_credit")).all()
        assert credits == [900, 900]


def test_renewal_with_a_failing_card_is_past_due_and_emails_the_student(
        app, live_server, seeded, make_user, stripe_emulator):
    sam = make_user()
    sub_id = subscribe(app, stripe_emulator, sam, seeded[PLAN])
    fail_next_renewal(app, stripe_emulator, sub_id)
    stripe = stripe_emulator.client()
    renewal = stripe.v1.subscriptions.retrieve(sub_id).latest_invoice
    wait_for(lambda: received(app, "invoice.payment_failed", renewal))
    assert months(app, sub_id) == 1
    with app.app_context():
        mail = db.session.scalars(db.select(OutgoingMail).where(
            OutgoingMail.template == "subscription_payment_failed")).one()
        assert mail.to_address == "sam@example.com" and "update your card" in mail.body
    assert stripe.v1.subscriptions.retrieve(sub_id).status == "past_due"


def test_renew_is_refused_without_the_emulator(make_app):
    app = make_app(STRIPE_API_BASE=None)
    result = app.test_cli_runner().invoke(args=["stripe", "renew", "sub_123"])
    assert result.exit_code == 2
    assert "needs the Stripe emulator" in result.output


def test_renewing_an_unknown_subscription_says_so(app):
    result = app.test_cli_runner().invoke(args=["stripe", "renew", "sub_missing"])
    assert result.exit_code == 1
    assert "The emulator refused" in result.output


def test_invoices_name_their_subscriptions_metadata(stripe_emulator):
    """Stripe copies the subscription's metadata onto its invoices: an invoice event that
    arrives before customer.subscription.created still says whose it is."""
    stripe_emulator.reset()
    stripe = stripe_emulator.client()
    product = stripe.v1.products.create(params={"name": "Monthly"})
    price = stripe.v1.prices.create(params={"unit_amount": 4900, "currency": "eur",
                                            "recurring": {"interval": "month"},
                                            "product": product.id})
    customer = stripe.v1.customers.create(params={"email": "ada@example.com"})
    subscription = stripe.v1.subscriptions.create(params={
        "customer": customer.id, "items": [{"price": price.id}],
        "payment_behavior": "default_incomplete", "metadata": {"student_id": "7"}})
    invoice = stripe.v1.invoices.retrieve(subscription.latest_invoice)
    details = invoice.parent.subscription_details
    assert (details.subscription, details.metadata.to_dict()) == (subscription.id,
                                                                  {"student_id": "7"})


def test_a_plan_switched_at_the_dashboard_is_billed_and_credited_from_the_next_month(
        app, live_server, seeded, make_user, stripe_emulator):
    sam = make_user()
    sub_id = subscribe(app, stripe_emulator, sam, seeded[PLAN])
    _, first_end, _ = state(app, sub_id)
    with app.app_context():
        sync_plan(db.session.get(PricingPlan, seeded["Family Subscription"]))
        db.session.commit()
    student = app.test_client()
    log_in(student, "sam@example.com")
    switched = student.post("/account/subscription/plan", data={
        "csrf_token": csrf_token(student, "/account"), "plan_id": seeded["Family Subscription"]})
    assert switched.status_code == 302
    # This month stays as paid: same period, no proration charged or credited at Stripe.
    stripe = stripe_emulator.client()
    assert _period_end(stripe, sub_id) == first_end
    assert stripe.v1.invoice_items.list(params={"customer": stripe.v1.subscriptions.retrieve(
        sub_id).customer}).data == []

    assert app.test_cli_runner().invoke(args=["stripe", "renew", sub_id]).exit_code == 0
    renewal = stripe.v1.subscriptions.retrieve(sub_id).latest_invoice
    wait_for(lambda: received(app, "invoice.paid", renewal) and months(app, sub_id) == 2)
    with app.app_context():
        assert verify_ledger() == []
        rows = db.session.execute(db.select(Purchase.plan_name, Purchase.price_minor,
                                            Purchase.minutes, Purchase.period_start)
                                  .order_by(Purchase.id)).all()
    assert [tuple(row) for row in rows] == [
        (PLAN, 11900, 900, rows[0].period_start),
        ("Family Subscription", 29900, 3000, first_end)]


def _period_end(stripe, sub_id: str) -> datetime:
    item = stripe.v1.subscriptions.retrieve(sub_id)["items"].data[0]
    return datetime.fromtimestamp(item.current_period_end, UTC)


def test_a_failed_renewal_is_recovered_with_a_new_card_from_the_dashboard(
        app, live_server, seeded, make_user, stripe_emulator):
    sam = make_user()
    sub_id = subscribe(app, stripe_emulator, sam, seeded[PLAN])
    fail_next_renewal(app, stripe_emulator, sub_id)
    stripe = stripe_emulator.client()

    student = app.test_client()
    log_in(student, "sam@example.com")
    assert "Update card" in student.get("/account").get_data(as_text=True)
    html = student.get("/account/subscription/card").get_data(as_text=True)
    secret = re.search(r'data-client-secret="([^"]+)"', html).group(1)
    saved = student.post("/checkout/test-mode/confirm-setup",
                         headers={"X-CSRFToken": csrf_token(student, "/account")},
                         json={"client_secret": secret, "card_number": "4242 4242 4242 4242"})
    assert saved.get_json()["setupIntent"]["status"] == "succeeded"
    done = student.get("/account/subscription/card/done",
                       query_string={"setup_intent": secret.split("_secret_")[0]})
    assert done.status_code == 302

    # The open invoice is paid with the new card: the month is credited once, and the
    # subscription is active again, however Stripe's events arrive.
    renewal = stripe.v1.subscriptions.retrieve(sub_id).latest_invoice
    assert stripe.v1.invoices.retrieve(renewal).status == "paid"
    wait_for(lambda: received(app, "invoice.paid", renewal))
    wait_for(lambda: state(app, sub_id)[0] == "active")
    assert months(app, sub_id) == 2
    with app.app_context():
        assert verify_ledger() == []
        assert db.session.scalars(db.select(LedgerEntry.minutes).where(
            LedgerEntry.kind == "purchase_credit")).all() == [900, 900]
    assert "payment went through" in student.get("/account").get_data(as_text=True)
