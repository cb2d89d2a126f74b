"""Subscribing on the checkout pages: the first invoice's PaymentIntent is paid on our page and
the month's hours are credited once, whoever settles it first (complete page or webhooks)."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import pytest
import requests

from storefront.extensions import db
from storefront.ledger import verify_ledger
from storefront.models import LedgerEntry, Lot, Purchase, Subscription, User
from tests.checkout.test_card_testing import ATTACKER_IP, browser, confirm
from tests.conftest import csrf_token
from tests.support import (
    BLACKHOLE_URL,
    WEBHOOK_PATH,
    all_at_once,
    deliver,
    pay,
    post_webhooks_at_once,
    signed_event,
    wait_for,
)

PLAN = "Student Subscription"  # 900 minutes for 119.00 a month


def start_as_guest(client, plan_id, email="ana@example.com"):
    token = csrf_token(client, f"/checkout/{plan_id}")
    return client.post(f"/checkout/{plan_id}",
                       data={"csrf_token": token, "name": "Ana Silva", "email": email})


def text_of(html: str) -> str:
    """What a person reads on the page (tags removed)."""
    return re.sub(r"<[^>]+>", "", html)


def the_purchase(app) -> Purchase:
    with app.app_context():
        return db.session.scalars(db.select(Purchase)).one()


def client_secret(client, purchase_id) -> str:
    html = client.get(f"/checkout/purchase/{purchase_id}/pay").get_data(as_text=True)
    return re.search(r'data-client-secret="([^"]+)"', html).group(1)


def credits(app, email="ana@example.com") -> list[tuple[int, datetime]]:
    """The student's purchase credits (minutes, lot expiry); the ledger checked sound first,
    in a snapshot of its own (a webhook may be committing meanwhile)."""
    with app.app_context():
        assert verify_ledger() == []
        user = db.session.scalars(db.select(User).where(User.email == email)).one()
        rows = db.session.execute(
            db.select(LedgerEntry.minutes, Lot.expires_at).join(Lot)
            .where(LedgerEntry.student_id == user.id, LedgerEntry.kind == "purchase_credit")
            .order_by(LedgerEntry.id)).all()
        return [tuple(row) for row in rows]


def complete_page(client, purchase: Purchase, secret: str):
    return client.get(f"/checkout/complete?payment_intent={purchase.payment_intent_id}"
                      f"&payment_intent_client_secret={secret}")


def period_end(stripe_emulator, purchase: Purchase) -> datetime:
    invoice = stripe_emulator.client().v1.invoices.retrieve(purchase.stripe_invoice_id)
    return datetime.fromtimestamp(invoice.lines.data[0].period.end, UTC)


def invoice_events(stripe_emulator, purchase: Purchase) -> list[tuple[bytes, dict]]:
    """invoice.paid, invoice.payment_succeeded and payment_intent.succeeded, built from the
    emulator's own objects and signed, as Stripe delivers them."""
    stripe = stripe_emulator.client()
    invoice = stripe.v1.invoices.retrieve(purchase.stripe_invoice_id,
                                          params={"expand": ["payments"]}).to_dict()
    intent = stripe.v1.payment_intents.retrieve(purchase.payment_intent_id).to_dict()
    return [signed_event("invoice.paid", invoice), signed_event("invoice.payment_succeeded",
                                                                invoice),
            signed_event("payment_intent.succeeded", intent)]


def test_plans_page_offers_subscriptions(client, synced):
    html = client.get("/").get_data(as_text=True)
    assert "open soon" not in html
    for name in ("Monthly Unlimited", "Student Subscription", "Family Subscription"):
        assert f'href="/checkout/{synced[name]}" aria-label="Subscribe to {name}"' in html


def test_checkout_page_describes_the_monthly_plan(client, synced):
    html = client.get(f"/checkout/{synced[PLAN]}").get_data(as_text=True)
    assert "€119.00 per month" in text_of(html) and "15 hours each month" in text_of(html)
    assert 'name="email"' in html and "days from payment" not in html


def test_an_unsynced_plan_says_it_is_not_available(client, seeded):
    html = client.get(f"/checkout/{seeded[PLAN]}").get_data(as_text=True)
    assert "not available right now" in html and 'name="email"' not in html


def test_guest_pays_the_first_month_and_the_complete_page_credits_it(app, client, synced,
                                                                     stripe_emulator):
    response = start_as_guest(client, synced[PLAN])
    purchase = the_purchase(app)
    assert response.headers["Location"] == f"/checkout/purchase/{purchase.id}/pay"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "€119.00 per month" in text_of(page) and "15 hours each month" in text_of(page)
    secret = re.search(r'data-client-secret="([^"]+)"', page).group(1)
    assert secret.startswith(purchase.payment_intent_id + "_secret_")

    assert confirm(client, secret, "4242424242424242").get_json()[
        "paymentIntent"]["status"] == "succeeded"
    html = complete_page(client, purchase, secret).get_data(as_text=True)

    assert 'data-purchase-status="completed"' in html
    assert "15 hours" in html and "subscription is active" in html
    assert "€119.00 for this month" in text_of(html)
    expiry = period_end(stripe_emulator, purchase)
    assert credits(app) == [(900, expiry)]
    # The webhooks Stripe sends for the same payment, late and twice: nothing more.
    for payload, headers in invoice_events(stripe_emulator, purchase) * 2:
        assert client.post(WEBHOOK_PATH, data=payload, headers=headers).status_code == 200
    complete_page(client, purchase, secret)
    assert credits(app) == [(900, expiry)]
    with app.app_context():
        paid = db.session.get(Purchase, purchase.id)
        assert (paid.status, paid.expires_at, paid.period_end) == ("completed", expiry, expiry)
        assert db.session.scalar(db.select(db.func.count()).select_from(Purchase)) == 1


def test_subscription_events_made_before_the_complete_page_still_give_the_period(
        app, client, synced, stripe_emulator):
    start_as_guest(client, synced[PLAN])
    purchase = the_purchase(app)
    secret = client_secret(client, purchase.id)
    confirm(client, secret, "4242424242424242")
    complete_page(client, purchase, secret)
    with app.app_context():
        sub_id = db.session.get(Subscription, purchase.subscription_id).stripe_subscription_id
    # Stripe activated the subscription as the payment went through, a moment before our
    # page read the invoice; its event arrives now, and carries the billing period.
    activated = json.loads(str(stripe_emulator.client().v1.subscriptions.retrieve(sub_id)))
    deliver(client, "customer.subscription.updated", activated,
            created=int(time.time()) - 2)
    with app.app_context():
        row = db.session.scalars(db.select(Subscription)).one()
        assert (row.status, row.current_period_end) == (
            "active", period_end(stripe_emulator, purchase))


@pytest.fixture
def decoy(make_user):
    """A first account, so that a late emulator webhook of an earlier test (whose metadata
    names that test's student 1) cannot touch this test's student."""
    return make_user("earlier@example.com")


def test_the_webhooks_credit_first_and_the_complete_page_shows_it(app, client, synced,
                                                                  stripe_emulator, decoy,
                                                                  live_server):
    start_as_guest(client, synced[PLAN])
    purchase = the_purchase(app)
    secret = client_secret(client, purchase.id)
    pay(stripe_emulator, purchase.payment_intent_id)  # the emulator's own webhooks follow

    wait_for(lambda: credits(app))
    html = complete_page(client, purchase, secret).get_data(as_text=True)
    assert "subscription is active" in html
    assert credits(app) == [(900, period_end(stripe_emulator, purchase))]
    with app.app_context():
        row = db.session.get(Subscription, purchase.subscription_id)
        wait_for(lambda: db.session.scalar(db.select(Subscription.status).where(
            Subscription.id == row.id).execution_options(populate_existing=True)) == "active")


def test_complete_page_and_webhooks_at_the_same_moment_credit_once(app, synced,
                                                                   stripe_emulator, decoy,
                                                                   live_server):
    session = requests.Session()
    page = session.get(f"{live_server.url}/checkout/{synced[PLAN]}", timeout=60).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    session.post(f"{live_server.url}/checkout/{synced[PLAN]}", timeout=60, data={
        "csrf_token": token, "name": "Ana Silva", "email": "ana@example.com"})
    purchase = the_purchase(app)
    pay_page = session.get(f"{live_server.url}/checkout/purchase/{purchase.id}/pay",
                           timeout=60).text
    secret = re.search(r'data-client-secret="([^"]+)"', pay_page).group(1)
    pay(stripe_emulator, purchase.payment_intent_id)
    deliveries = invoice_events(stripe_emulator, purchase) * 3

    def hit(n):
        if n < len(deliveries):
            payload, headers = deliveries[n]
            return requests.post(live_server.url + WEBHOOK_PATH, data=payload,
                                 headers=headers, timeout=60).status_code
        return session.get(
            f"{live_server.url}/checkout/complete?payment_intent={purchase.payment_intent_id}"
            f"&payment_intent_client_secret={secret}", timeout=60).status_code

    assert all_at_once(hit, list(range(len(deliveries) + 3))) == [200] * (len(deliveries) + 3)
    wait_for(lambda: credits(app))
    assert [minutes for minutes, _ in credits(app)] == [900]


def test_a_refund_and_the_invoice_paid_at_the_same_moment_both_apply(app, client, synced,
                                                                      stripe_emulator, decoy,
                                                                      live_server):
    """A refund heard before the month was credited settles the month first, in the same lock
    order as invoice.paid (subscription, then purchase): neither waits on the other."""
    start_as_guest(client, synced[PLAN])
    purchase = the_purchase(app)
    stripe = stripe_emulator.client()
    stripe_emulator.send_webhooks_to(BLACKHOLE_URL)  # these deliveries are the test's own
    pay(stripe_emulator, purchase.payment_intent_id)
    refund = stripe.v1.refunds.create(params={"payment_intent": purchase.payment_intent_id})
    charge = stripe.v1.charges.retrieve(refund.charge).to_dict()
    paid, succeeded, _ = invoice_events(stripe_emulator, purchase)
    refunded = signed_event("charge.refunded", charge)

    codes = post_webhooks_at_once(live_server.url, [refunded, paid, refunded, succeeded] * 3)

    assert codes == [200] * 12
    with app.app_context():
        assert verify_ledger() == []
        month = db.session.get(Purchase, purchase.id)
        lot = db.session.scalars(db.select(Lot).where(Lot.purchase_id == purchase.id)).one()
        assert (month.status, month.refunded_minor, lot.minutes_remaining) == (
            "refunded", 11900, 0)


def test_a_declined_first_payment_can_be_retried_with_another_card(app, client, synced,
                                                                   stripe_emulator):
    start_as_guest(client, synced[PLAN])
    purchase = the_purchase(app)
    secret = client_secret(client, purchase.id)
    declined = confirm(client, secret, "4000000000000002").get_json()
    assert declined["error"]["code"] == "card_declined"

    html = complete_page(client, purchase, secret).get_data(as_text=True)
    assert 'data-payment-status="requires_payment_method"' in html and "Try again" in html
    assert credits(app) == []
    assert the_purchase(app).status == "failed"

    assert client_secret(client, purchase.id) == secret  # the same PaymentIntent
    assert confirm(client, secret, "4242424242424242").get_json()[
        "paymentIntent"]["status"] == "succeeded"
    assert "subscription is active" in complete_page(client, purchase, secret).get_data(
        as_text=True)
    assert [minutes for minutes, _ in credits(app)] == [900]


def test_paid_elsewhere_the_pay_page_settles_it(app, client, synced, stripe_emulator):
    start_as_guest(client, synced[PLAN])
    purchase = the_purchase(app)
    pay(stripe_emulator, purchase.payment_intent_id)
    response = client.get(f"/checkout/purchase/{purchase.id}/pay")
    assert response.status_code == 302
    assert [minutes for minutes, _ in credits(app)] == [900]


@pytest.fixture
def limited(make_app):
    app = make_app(PAYMENT_DECLINE_LIMIT=3, PAYMENT_DECLINE_LIMIT_EMAIL=6,
                   PAYMENT_DECLINE_WINDOW_MINUTES=60)
    from storefront.catalog.services import seed_default_plans
    from storefront.models import PricingPlan

    with app.app_context():
        seed_default_plans()
        db.session.commit()
        plan_id = db.session.scalars(db.select(PricingPlan.id).where(
            PricingPlan.name == PLAN)).one()
    assert app.test_cli_runner().invoke(args=["stripe", "sync-plans"]).exit_code == 0
    return app, plan_id


def test_past_the_decline_limit_the_incomplete_subscription_is_cancelled_at_stripe(
        limited, stripe_emulator):
    app, plan_id = limited
    attacker = browser(app, ATTACKER_IP)
    start_as_guest(attacker, plan_id, email="tester@example.com")
    purchase = the_purchase(app)
    secret = client_secret(attacker, purchase.id)
    for _ in range(3):
        declined = pay(stripe_emulator, purchase.payment_intent_id,
                       "pm_card_visa_chargeDeclined")
        assert deliver(app.test_client(), "payment_intent.payment_failed",
                       declined).status_code == 200

    stripe = stripe_emulator.client()
    with app.app_context():
        row = db.session.get(Subscription, purchase.subscription_id)
        assert row.status == "canceled"
        sub_id = row.stripe_subscription_id
    assert stripe.v1.subscriptions.retrieve(sub_id).status in ("canceled", "incomplete_expired")
    assert stripe.v1.payment_intents.retrieve(purchase.payment_intent_id).status == "canceled"
    assert the_purchase(app).status == "cancelled"
    assert "Payment cancelled" in complete_page(attacker, purchase, secret).get_data(
        as_text=True)
    assert credits(app, "tester@example.com") == []


def test_reconcile_settles_a_paid_first_month_whose_webhooks_were_lost(app, client, synced,
                                                                       stripe_emulator):
    start_as_guest(client, synced[PLAN])
    purchase = the_purchase(app)
    pay(stripe_emulator, purchase.payment_intent_id)  # no webhook reaches us

    result = app.test_cli_runner().invoke(args=["stripe", "reconcile", "--since", "1h"])
    assert result.exit_code == 0, result.output
    assert credits(app) == [(900, period_end(stripe_emulator, purchase))]
    assert app.test_cli_runner().invoke(args=["stripe", "reconcile", "--since", "1h"]
                                        ).exit_code == 0
    assert [minutes for minutes, _ in credits(app)] == [900]
