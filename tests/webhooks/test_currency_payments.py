"""Paying in dollars and in yen against the Stripe emulator through the real stripe library:
the webhook credits the hours after checking the amount in the purchase's own currency;
refunds are typed and sent in that currency; the balance never adds currencies together."""

from __future__ import annotations

import re

import pytest

from storefront.extensions import db
from storefront.models import Balance, Purchase
from tests.conftest import csrf_token, log_in
from tests.support import INITIATE_URL, WEBHOOK_PATH, credited_minutes, pay, signed_event


def start(client, plan_id: int, currency: str | None, email: str = "sam@example.com") -> dict:
    payload = {"plan_id": plan_id, "student_info": {"name": "Sam Student", "email": email}}
    if currency:
        payload["currency"] = currency
    response = client.post(INITIATE_URL, json=payload)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def settle(client, stripe_emulator, started: dict):
    intent = pay(stripe_emulator, started["payment_intent_id"])
    payload, headers = signed_event("payment_intent.succeeded", intent)
    return intent, client.post(WEBHOOK_PATH, data=payload, headers=headers)


@pytest.mark.parametrize(("currency", "amount"), [("usd", 8200), ("jpy", 12000)])
def test_a_payment_in_another_currency_is_credited_by_the_webhook(
        app, client, priced, stripe_emulator, currency, amount):
    started = start(client, priced["Basic Package"], currency)
    intent, answer = settle(client, stripe_emulator, started)
    assert answer.status_code == 200
    assert (intent["status"], intent["amount"], intent["currency"]) == (
        "succeeded", amount, currency)
    assert credited_minutes(app, "sam@example.com") == 300
    with app.app_context():
        purchase = db.session.get(Purchase, started["transaction_id"])
        assert (purchase.status, purchase.price_minor, purchase.currency) == (
            "completed", amount, currency)


def test_the_webhook_checks_the_currency_not_only_the_amount(
        app, client, priced, stripe_emulator):
    started = start(client, priced["Basic Package"], "jpy")
    with app.app_context():  # same number, other currency: 12000 yen are not 120.00 dollars
        db.session.get(Purchase, started["transaction_id"]).currency = "usd"
        db.session.commit()
    _, answer = settle(client, stripe_emulator, started)
    assert answer.status_code == 200
    assert credited_minutes(app, "sam@example.com") == 0
    with app.app_context():
        assert db.session.get(Purchase, started["transaction_id"]).status == "pending"


def _refund(staff, purchase_id: int, amount: str, key: str) -> str:
    response = staff.post(f"/staff/purchases/{purchase_id}/refund", data={
        "csrf_token": csrf_token(staff), "amount": amount, "reason": "", "request_key": key},
        follow_redirects=True)
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def test_a_refund_in_dollars_is_typed_and_sent_in_dollars(
        app, client, priced, stripe_emulator, staff):
    started = start(client, priced["Basic Package"], "usd")
    settle(client, stripe_emulator, started)
    purchase_id = started["transaction_id"]
    page = staff.get(f"/staff/students/{_student(app)}").get_data(as_text=True)
    assert "Refund amount in USD (up to US$82.00)" in page
    assert "at most 82.00" in _refund(staff, purchase_id, "82.01", "k0")
    assert "Refund of US$41.00 sent to Stripe." in _refund(staff, purchase_id, "41", "k1")
    charges = stripe_emulator.client().v1.charges.list(params={"limit": 10}).data
    assert [(c.amount_refunded, c.currency) for c in charges
            if c.payment_intent == started["payment_intent_id"]] == [(4100, "usd")]
    with app.app_context():
        purchase = db.session.get(Purchase, purchase_id)
        assert (purchase.status, purchase.refunded_minor) == ("partially_refunded", 4100)
        assert db.session.get(Balance, purchase.student_id).available_minutes == 150


def test_a_refund_in_yen_takes_whole_yen_only(app, client, priced, stripe_emulator, staff):
    started = start(client, priced["Basic Package"], "jpy")
    settle(client, stripe_emulator, started)
    purchase_id = started["transaction_id"]
    assert "JPY has no decimals" in _refund(staff, purchase_id, "6000.5", "k1")
    assert "at most 12000." in _refund(staff, purchase_id, "12001", "k2")
    assert "Refund of JP¥6,000 sent to Stripe." in _refund(staff, purchase_id, "6000", "k3")
    with app.app_context():
        purchase = db.session.get(Purchase, purchase_id)
        assert (purchase.status, purchase.refunded_minor) == ("partially_refunded", 6000)
        assert db.session.get(Balance, purchase.student_id).available_minutes == 150


def _student(app) -> int:
    with app.app_context():
        return db.session.scalars(db.select(Purchase.student_id)).first()


def test_the_balance_value_is_given_per_currency_never_added_up(
        app, client, priced, stripe_emulator, make_user):
    make_user("sam@example.com")
    for currency in ("usd", None):  # Basic Package: 82.00 dollars, then 75.00 euros
        settle(client, stripe_emulator, start(client, priced["Basic Package"], currency))
    log_in(client, "sam@example.com")
    summary = client.get("/api/finances/api/student-balance/").get_json()["balance_summary"]
    assert summary["balance_amount"] == "75.00"  # euros, as the field always meant
    assert summary["balance_amounts"] == {"eur": "75.00", "usd": "82.00"}
