"""Prices in several currencies through the API: the pricing plans list every price of a
plan by its currency's exponent, and initiate charges the plan's price in the currency asked
for (or refuses, writing nothing, when the plan has no price in it)."""

from __future__ import annotations

import pytest

from storefront.extensions import db
from storefront.models import Purchase, User
from tests.support import INITIATE_URL

PLANS_URL = "/api/finances/api/pricing-plans/"


def body(plan_id, currency=None, email="ana@example.com"):
    payload = {"plan_id": plan_id, "student_info": {"name": "Ana Silva", "email": email}}
    if currency is not None:
        payload["currency"] = currency
    return payload


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_pricing_plans_keep_price_eur_and_list_every_price_by_its_exponent(client, priced):
    plans = {plan["name"]: plan for plan in client.get(PLANS_URL).get_json()}
    basic = plans["Basic Package"]
    assert basic["price_eur"] == "75.00"
    assert basic["prices"] == {"eur": "75.00", "usd": "82.00", "gbp": "65.00", "jpy": "12000"}
    assert plans["Standard Package"]["prices"] == {"eur": "140.00", "usd": "150.00"}
    assert plans["Premium Package"]["prices"] == {"eur": "260.00"}


@pytest.mark.parametrize(("currency", "amount"), [("usd", 8200), ("USD", 8200),
                                                   ("jpy", 12000), ("eur", 7500)])
def test_initiate_charges_the_plans_price_in_the_currency_asked_for(
        app, client, priced, stripe_emulator, currency, amount):
    response = client.post(INITIATE_URL, json=body(priced["Basic Package"], currency))
    assert response.status_code == 201, response.get_data(as_text=True)
    data = response.get_json()
    code = currency.lower()
    intent = stripe_emulator.client().v1.payment_intents.retrieve(data["payment_intent_id"])
    assert (intent.amount, intent.currency) == (amount, code)
    with app.app_context():
        purchase = db.session.get(Purchase, data["transaction_id"])
        assert (purchase.price_minor, purchase.currency) == (amount, code)
    details = data["plan_details"]
    assert details["currency"] == code
    assert details["price"] == {"usd": "82.00", "jpy": "12000", "eur": "75.00"}[code]
    assert details["price_eur"] == "75.00"


def test_initiate_without_a_currency_charges_euros(app, client, priced, stripe_emulator):
    data = client.post(INITIATE_URL, json=body(priced["Basic Package"])).get_json()
    intent = stripe_emulator.client().v1.payment_intents.retrieve(data["payment_intent_id"])
    assert (intent.amount, intent.currency) == (7500, "eur")


@pytest.mark.parametrize(("plan", "currency"), [
    ("Standard Package", "jpy"),  # a currency we sell in, but not this plan
    ("Basic Package", "chf"),
    ("Basic Package", "xyz"),  # not a currency we sell in
    ("Basic Package", "us"),
    ("Basic Package", 840),
    ("Basic Package", ""),
])
def test_a_currency_the_plan_has_no_price_in_is_refused_and_nothing_is_written(
        app, client, priced, stripe_emulator, plan, currency):
    response = client.post(INITIATE_URL, json=body(priced[plan], currency))
    assert response.status_code == 400
    data = response.get_json()
    assert data["error_type"] == "validation_error"
    assert list(data["field_errors"]) == ["currency"]
    assert count(app, Purchase) == 0 and count(app, User) == 0
    assert stripe_emulator.client().v1.payment_intents.list().data == []


def test_the_same_plan_in_another_currency_is_another_purchase(app, client, priced):
    plan_id = priced["Basic Package"]
    euros = client.post(INITIATE_URL, json=body(plan_id)).get_json()
    dollars = client.post(INITIATE_URL, json=body(plan_id, "usd")).get_json()
    again = client.post(INITIATE_URL, json=body(plan_id, "usd")).get_json()
    assert dollars["transaction_id"] != euros["transaction_id"]
    assert again["transaction_id"] == dollars["transaction_id"]
