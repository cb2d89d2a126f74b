"""Staff price plans in several currencies: euros required, the others optional, each checked
by its currency's exponent and Stripe's minimum, shown as a field error; the catalog (page,
ETag, API) follows the moment a price changes."""

from __future__ import annotations

import re

from storefront.extensions import db
from storefront.models import PlanPrice
from tests.conftest import csrf_token

PLANS_URL = "/api/finances/api/pricing-plans/"
BASIC = {"name": "Basic Package", "description": "Five hours", "plan_type": "package",
         "hours_included": "5", "price": "75.00", "validity_days": "30", "display_order": "1",
         "is_active": "y"}


def save(staff, plan_id, **prices):
    return staff.post(f"/staff/plans/{plan_id}", data={
        "csrf_token": csrf_token(staff), **BASIC, **prices})


def stored(app, plan_id) -> dict[str, int]:
    with app.app_context():
        return {row.currency: row.amount_minor for row in db.session.scalars(
            db.select(PlanPrice).where(PlanPrice.plan_id == plan_id))}


def test_staff_add_change_and_remove_prices_in_other_currencies(app, staff, client, seeded):
    basic = seeded["Basic Package"]
    assert save(staff, basic, price_usd="82", price_jpy="12000").status_code == 302
    assert stored(app, basic) == {"eur": 7500, "usd": 8200, "jpy": 12000}
    assert client.get(PLANS_URL).get_json()[0]["prices"] == {
        "eur": "75.00", "usd": "82.00", "jpy": "12000"}
    form = staff.get(f"/staff/plans/{basic}").get_data(as_text=True)
    assert re.search(r'id="price_usd"[^>]*value="82.00"', form)
    assert re.search(r'id="price_jpy"[^>]*value="12000"', form)
    assert save(staff, basic, price_usd="", price_jpy="11500", price_gbp="65.5").status_code \
        == 302
    assert stored(app, basic) == {"eur": 7500, "gbp": 6550, "jpy": 11500}
    listed = staff.get("/staff/plans").get_data(as_text=True)
    assert "£65.50" in listed and "JP¥11,500" in listed


def test_a_new_plan_is_priced_in_several_currencies(app, staff, client, seeded):
    created = staff.post("/staff/plans/new", data={
        "csrf_token": csrf_token(staff), **BASIC, "name": "Exam Sprint", "price": "100",
        "price_chf": "95.00", "price_brl": "550"})
    assert created.status_code == 302
    plan = next(p for p in client.get(PLANS_URL).get_json() if p["name"] == "Exam Sprint")
    assert plan["prices"] == {"eur": "100.00", "brl": "550.00", "chf": "95.00"}


def test_a_wrong_price_is_a_field_error_and_nothing_is_saved(app, staff, seeded):
    basic = seeded["Basic Package"]
    for field, value, message in [
            ("price_jpy", "12.5", "JPY has no decimals: enter a whole amount."),
            ("price_gbp", "0.20", "A price in GBP must be from 0.30 to 10000.00."),
            ("price_usd", "10000.01", "A price in USD must be from 0.50 to 10000.00."),
            ("price_chf", "abc", "Enter an amount such as 82.50.")]:
        answer = save(staff, basic, **{"price_usd": "82", field: value})
        html = answer.get_data(as_text=True)
        assert answer.status_code == 400
        assert re.search(rf'id="{field}-error">{re.escape(message)}<', html), html
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', html) or re.search(
            rf'aria-invalid="true"[^>]*id="{field}"', html)
        assert stored(app, basic) == {"eur": 7500}


def test_a_price_change_drops_the_cached_page_of_that_currency(staff, client, priced):
    before = client.get("/", headers={"Accept-Language": "en-US"})
    assert "US$82.00" in before.get_data(as_text=True)
    assert save(staff, priced["Basic Package"], price_usd="79.00", price_gbp="65",
                price_jpy="12000").status_code == 302
    after = client.get("/", headers={"Accept-Language": "en-US",
                                     "If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert "US$79.00" in after.get_data(as_text=True)
    assert "US$82.00" not in after.get_data(as_text=True)
