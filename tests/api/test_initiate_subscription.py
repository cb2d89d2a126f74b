"""POST /api/finances/api/purchase/initiate/ with a subscription plan: a pending purchase for the
first invoice and an incomplete Stripe Subscription whose first PaymentIntent the page confirms."""

from __future__ import annotations

from urllib.parse import parse_qs

import requests

from storefront.extensions import db
from storefront.models import PricingPlan, Purchase, Subscription, User
from tests.conftest import csrf_token, log_in
from tests.support import INITIATE_URL, all_at_once, pay

PLAN = "Student Subscription"  # 900 minutes for 119.00 a month


def body(plan_id, name="Ana Silva", email="ana@example.com"):
    return {"plan_id": plan_id, "student_info": {"name": name, "email": email}}


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def subscriptions_at_stripe(stripe_emulator) -> list:
    return stripe_emulator.client().v1.subscriptions.list(
        params={"limit": 100, "status": "all"}).data


def test_guest_subscribes_through_the_api(app, client, synced, stripe_emulator):
    plan_id = synced[PLAN]
    response = client.post(INITIATE_URL, json=body(plan_id))

    assert response.status_code == 201, response.get_data(as_text=True)
    data = response.get_json()
    assert data["success"] is True
    assert data["subscription_id"].startswith("sub_")
    assert data["client_secret"].startswith(data["payment_intent_id"] + "_secret_")
    assert data["plan_details"]["plan_type"] == "subscription"
    assert (data["plan_details"]["hours_included"], data["plan_details"]["price_eur"],
            data["plan_details"]["validity_days"]) == ("15.00", "119.00", None)

    stripe = stripe_emulator.client()
    subscription = stripe.v1.subscriptions.retrieve(data["subscription_id"])
    with app.app_context():
        purchase = db.session.get(Purchase, data["transaction_id"])
        student = purchase.student
        plan = db.session.get(PricingPlan, plan_id)
        assert (student.email, student.password_hash) == ("ana@example.com", None)
        assert subscription.status == "incomplete"
        assert subscription.customer == student.stripe_customer_id
        assert subscription["items"].data[0].price.id == plan.stripe_price_id
        assert subscription.metadata.to_dict() == {
            "student_id": str(student.id), "plan_id": str(plan_id),
            "purchase_id": str(purchase.id)}
        assert (purchase.status, purchase.price_minor, purchase.minutes,
                purchase.plan_type) == ("pending", 11900, 900, "subscription")
        assert purchase.stripe_invoice_id == subscription.latest_invoice
        assert purchase.payment_intent_id == data["payment_intent_id"]
        row = db.session.get(Subscription, purchase.subscription_id)
        assert (row.stripe_subscription_id, row.status, row.student_id, row.plan_id) == (
            data["subscription_id"], "incomplete", student.id, plan_id)
    intent = stripe.v1.payment_intents.retrieve(data["payment_intent_id"])
    assert (intent.amount, intent.currency, intent.status) == (
        11900, "eur", "requires_payment_method")
    invoice = stripe.v1.invoices.retrieve(subscription.latest_invoice)
    assert invoice.payment_intent == intent.id


def test_logged_in_student_subscribes_as_themselves(app, client, synced, make_user,
                                                    stripe_emulator):
    user_id = make_user("sam@example.com", "Sam Student")
    log_in(client, "sam@example.com")
    response = client.post(INITIATE_URL, json=body(synced[PLAN], "Sam Student",
                                                   "sam@example.com"),
                           headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 201, response.get_data(as_text=True)
    data = response.get_json()
    with app.app_context():
        user = db.session.get(User, user_id)
        assert db.session.get(Purchase, data["transaction_id"]).student_id == user_id
        customer = stripe_emulator.client().v1.customers.retrieve(user.stripe_customer_id)
    assert customer.email == "sam@example.com"
    subscription = stripe_emulator.client().v1.subscriptions.retrieve(data["subscription_id"])
    assert subscription.customer == customer.id


def test_a_package_answer_has_no_subscription_id(client, synced):
    data = client.post(INITIATE_URL, json=body(synced["Basic Package"])).get_json()
    assert data["success"] is True and "subscription_id" not in data


def test_a_plan_without_a_stripe_price_is_not_available(app, client, seeded, stripe_emulator):
    response = client.post(INITIATE_URL, json=body(seeded[PLAN]))
    assert response.status_code == 503
    data = response.get_json()
    assert data["success"] is False and data["error_type"] == "plan_unavailable"
    assert "not available right now" in data["message"]
    assert count(app, Purchase) == 0 and count(app, User) == 0
    assert subscriptions_at_stripe(stripe_emulator) == []


def test_a_double_click_reuses_the_pending_subscription(app, client, synced, stripe_emulator):
    first = client.post(INITIATE_URL, json=body(synced[PLAN])).get_json()
    again = client.post(INITIATE_URL, json=body(synced[PLAN])).get_json()
    assert (again["transaction_id"], again["subscription_id"], again["client_secret"]) == (
        first["transaction_id"], first["subscription_id"], first["client_secret"])
    assert [s.id for s in subscriptions_at_stripe(stripe_emulator)] == [first["subscription_id"]]
    assert count(app, Purchase) == 1 and count(app, Subscription) == 1


def test_ten_concurrent_starts_by_one_browser_make_one_subscription(app, synced,
                                                                   stripe_emulator,
                                                                   make_user, live_server):
    # A first account, so that a late emulator webhook of an earlier test (whose metadata
    # names that test's student 1) cannot touch this test's student.
    make_user("earlier@example.com")
    plan_id = synced[PLAN]
    browser = requests.Session()
    assert browser.get(f"{live_server.url}/checkout/{plan_id}", timeout=60).status_code == 200

    responses = all_at_once(lambda _: browser.post(
        live_server.url + INITIATE_URL, json=body(plan_id), timeout=120), list(range(10)))

    assert [r.status_code for r in responses] == [201] * 10
    answers = {(r.json()["transaction_id"], r.json()["subscription_id"]) for r in responses}
    assert len(answers) == 1
    [(_, subscription_id)] = answers
    assert [s.id for s in subscriptions_at_stripe(stripe_emulator)] == [subscription_id]
    with app.app_context():
        student = db.session.scalars(db.select(User).where(
            User.email == "ana@example.com")).one()
        assert db.session.scalars(db.select(Subscription.stripe_subscription_id).where(
            Subscription.student_id == student.id)).all() == [subscription_id]
        assert db.session.scalar(db.select(db.func.count()).select_from(Purchase).where(
            Purchase.student_id == student.id)) == 1


def test_a_second_subscription_is_refused_and_points_to_the_dashboard(app, client, synced,
                                                                     stripe_emulator):
    first = client.post(INITIATE_URL, json=body(synced[PLAN])).get_json()
    pay(stripe_emulator, first["payment_intent_id"])
    client.get(f"/checkout/complete?payment_intent={first['payment_intent_id']}"
               f"&payment_intent_client_secret={first['client_secret']}")

    for plan in (PLAN, "Family Subscription"):
        refused = client.post(INITIATE_URL, json=body(synced[plan]))
        assert refused.status_code == 409
        data = refused.get_json()
        assert data["error_type"] == "already_subscribed"
        assert "already" in data["message"] and "dashboard" in data["message"]
    assert len(subscriptions_at_stripe(stripe_emulator)) == 1
    assert count(app, Purchase) == 1
    # Packages can still be bought beside it.
    assert client.post(INITIATE_URL, json=body(synced["Basic Package"])).status_code == 201


def test_a_subscription_waiting_for_payment_in_another_browser_is_refused(
        app, client, synced, stripe_emulator):
    client.post(INITIATE_URL, json=body(synced[PLAN]))
    elsewhere = app.test_client().post(INITIATE_URL, json=body(synced["Family Subscription"]))
    assert elsewhere.status_code == 409
    assert elsewhere.get_json()["error_type"] == "already_subscribed"
    assert len(subscriptions_at_stripe(stripe_emulator)) == 1


def test_choosing_another_plan_in_the_same_browser_replaces_the_unpaid_one(
        app, client, synced, stripe_emulator):
    first = client.post(INITIATE_URL, json=body(synced[PLAN])).get_json()
    other = client.post(INITIATE_URL, json=body(synced["Family Subscription"])).get_json()
    assert other["subscription_id"] != first["subscription_id"]
    stripe = stripe_emulator.client()
    assert stripe.v1.subscriptions.retrieve(first["subscription_id"]).status in (
        "canceled", "incomplete_expired")
    assert stripe.v1.payment_intents.retrieve(first["payment_intent_id"]).status == "canceled"
    with app.app_context():
        assert db.session.get(Purchase, first["transaction_id"]).status == "cancelled"
        assert db.session.get(Purchase, other["transaction_id"]).status == "pending"


def test_what_we_send_to_stripe_to_subscribe(make_app, seeded_with, stripe_emulator,
                                             stripe_stub):
    """The Subscription create, as Stripe receives it (the emulator answers behind the stub)."""
    stripe_stub.forward_to(stripe_emulator)
    app = make_app(STRIPE_API_BASE=stripe_stub.base_url)
    seeded_with(app)
    assert app.test_cli_runner().invoke(args=["stripe", "sync-plans"]).exit_code == 0
    with app.app_context():
        plan = db.session.scalars(db.select(PricingPlan).where(PricingPlan.name == PLAN)).one()
        plan_id, price_id = plan.id, plan.stripe_price_id
    client = app.test_client()
    data = client.post(INITIATE_URL, json=body(plan_id)).get_json()
    client.post(INITIATE_URL, json=body(plan_id))  # a double-click sends nothing new

    creates = [(headers, parse_qs(sent.decode())) for line, headers, sent in stripe_stub.sent
               if line == "POST /v1/subscriptions"]
    assert len(creates) == 1
    [(headers, params)] = creates
    with app.app_context():
        purchase = db.session.get(Purchase, data["transaction_id"])
        student = purchase.student
        assert headers["Idempotency-Key"] == f"subscription-{purchase.attempt_key}"
        assert params == {
            "customer": [student.stripe_customer_id], "items[0][price]": [price_id],
            "payment_behavior": ["default_incomplete"],
            "payment_settings[save_default_payment_method]": ["on_subscription"],
            "metadata[student_id]": [str(student.id)], "metadata[plan_id]": [str(plan_id)],
            "metadata[purchase_id]": [str(purchase.id)],
            "expand[0]": ["latest_invoice.confirmation_secret"],
            "expand[1]": ["latest_invoice.payments"],
        }
        customer_creates = [h for line, h, _ in stripe_stub.sent if line == "POST /v1/customers"]
        assert [h["Idempotency-Key"] for h in customer_creates] == [f"customer-{student.id}"]
