"""Staff pages in the browser's terms: forms posted, pages read back."""

from __future__ import annotations

import re

import pytest

from storefront import ledger
from storefront.extensions import db
from storefront.models import Balance, PricingPlan, Purchase
from tests.conftest import csrf_token, log_in


def post(client, url, **fields):
    return client.post(url, data={"csrf_token": csrf_token(client), **fields},
                       follow_redirects=True)


def page_text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def test_access(app, client, make_user):
    assert client.get("/staff").headers["Location"].startswith("/account/login")
    make_user("eve@example.com", "Eve Student")
    log_in(client, "eve@example.com")
    assert client.get("/staff").status_code == 403
    assert client.get("/staff/plans").status_code == 403


def test_search_and_student_page(staff, buy, student_id):
    buy("Basic Package")
    found = staff.get("/staff?q=SAM")
    assert f'/staff/students/{student_id()}' in found.get_data(as_text=True)
    assert "No student matches" in staff.get("/staff?q=zzz").get_data(as_text=True)
    html = staff.get(f"/staff/students/{student_id()}").get_data(as_text=True)
    assert 'data-remaining-minutes="300"' in html and "purchase credit" in html


def test_record_and_cancel_a_session(app, staff, buy, student_id):
    buy("Basic Package")
    sam = student_id()
    url = f"/staff/students/{sam}"
    recorded = post(staff, url + "/sessions", hours="1.5", session_ref="algebra-3")
    assert "Recorded 1.50 hours for algebra-3" in page_text(recorded)
    assert 'data-remaining-minutes="210"' in recorded.get_data(as_text=True)
    repeat = post(staff, url + "/sessions", hours="1.5", session_ref="algebra-3")
    assert "Already recorded; nothing changed." in page_text(repeat)
    short = post(staff, url + "/sessions", hours="4", session_ref="big")
    assert "Not recorded: 0.50 hours missing (3.50 available)." in page_text(short)
    cancelled = post(staff, url + "/sessions/cancel", session_ref="algebra-3")
    assert "Session algebra-3 cancelled" in page_text(cancelled)
    with app.app_context():
        assert db.session.get(Balance, sam).available_minutes == 300
        assert ledger.verify_ledger() == []


def test_extend_from_the_page(app, staff, buy, student_id):
    purchase = buy("Basic Package")
    with app.app_context():
        before = db.session.get(Purchase, purchase).expires_at
    html = staff.get(f"/staff/students/{student_id()}").get_data(as_text=True)
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', html).group(1)
    for _ in range(2):  # a double submission extends once
        done = post(staff, f"/staff/purchases/{purchase}/extend", days="7", reason="Holiday",
                    request_key=key)
    assert "extended by 7 days" in page_text(done)
    with app.app_context():
        after = db.session.get(Purchase, purchase).expires_at
        assert (after - before).days == 7


def test_refund_through_stripe_from_the_page(app, staff, buy, student_id, stripe_emulator):
    purchase = buy("Standard Package")  # 140.00, 600 min
    sam = student_id()
    url = f"/staff/purchases/{purchase}/refund"
    too_much = post(staff, url, amount="140.01", reason="x", request_key="k0")
    assert "at most 140.00" in page_text(too_much)
    done = post(staff, url, amount="70.00", reason="Moved away", request_key="k1")
    assert "Refund of €70.00 sent to Stripe." in page_text(done)
    with app.app_context():
        p = db.session.get(Purchase, purchase)
        assert (p.status, p.refunded_minor) == ("partially_refunded", 7000)
        assert db.session.get(Balance, sam).available_minutes == 300
        intent = p.payment_intent_id
    charge = stripe_emulator.client().v1.charges.list(params={"limit": 10}).data
    assert [c.amount_refunded for c in charge if c.payment_intent == intent] == [7000]
    rest = post(staff, url, amount="70.00", reason="", request_key="k2")
    assert "Refund of €70.00" in page_text(rest)
    with app.app_context():
        assert db.session.get(Purchase, purchase).status == "refunded"
        assert db.session.get(Balance, sam).available_minutes == 0
    assert "Nothing left to refund" in page_text(post(staff, url, amount="1", request_key="k3"))


def test_plans_are_managed_and_the_catalog_follows_at_once(app, staff, client, seeded):
    client.get("/api/finances/api/pricing-plans/")  # warm the cache
    created = post(staff, "/staff/plans/new", name="Exam Sprint", description="Two weeks",
                   plan_type="package", hours_included="8", price="100.00", validity_days="14",
                   display_order="0", is_featured="y", is_active="y")
    assert "Plan “Exam Sprint” saved." in page_text(created)
    plans = client.get("/api/finances/api/pricing-plans/").get_json()
    assert plans[0]["name"] == "Exam Sprint" and plans[0]["price_per_hour"] == "12.50"

    basic = seeded["Basic Package"]
    form = staff.get(f"/staff/plans/{basic}")
    html = form.get_data(as_text=True)
    assert form.status_code == 200
    assert 'value="5.00"' in html and 'value="75.00"' in html and 'value="30"' in html
    edited = post(staff, f"/staff/plans/{basic}", name="Basic Package", description="",
                  plan_type="package", hours_included="5", price="80.00", validity_days="30",
                  display_order="1")  # no is_active: taken off sale
    assert edited.status_code == 200
    names = [p["name"] for p in client.get("/api/finances/api/pricing-plans/").get_json()]
    assert "Basic Package" not in names
    with app.app_context():
        plan = db.session.get(PricingPlan, basic)
        assert (plan.price_minor, plan.is_active) == (8000, False)


@pytest.mark.parametrize(("fields", "message"), [
    ({"hours_included": "0"}, "Hours must be more than 0"),
    ({"price": "0.49"}, "from 0.50 to 10000.00"),
    ({"price": "10000.01"}, "from 0.50 to 10000.00"),
    ({"validity_days": ""}, "at least 1 day"),
    ({"validity_days": "3651"}, "from 1 to 3650 days"),
    ({"validity_days": "3000000"}, "from 1 to 3650 days"),
    ({"plan_type": "subscription"}, "no validity in days"),
    ({"name": "Standard Package"}, "Another plan has this name"),
])
def test_plan_rules_are_enforced(app, staff, seeded, fields, message):
    form = {"name": "New Plan", "description": "", "plan_type": "package",
            "hours_included": "5", "price": "50.00", "validity_days": "30",
            "display_order": "9", "is_active": "y", **fields}
    response = post(staff, "/staff/plans/new", **form)
    assert response.status_code == 400 and message in page_text(response)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(PricingPlan)) == 7


def test_expire_overdue_packages_from_the_page(app, staff, buy, student_id):
    from datetime import timedelta

    buy("Basic Package", expires_in=timedelta(hours=-30))
    buy("Standard Package", expires_in=timedelta(hours=-2))
    listed = page_text(staff.get("/staff/expiry?grace_hours=24"))
    assert "Basic Package" in listed and "Standard Package" not in listed
    done = post(staff, "/staff/expiry", grace_hours="24")
    assert "Expired 5.00 hours in 1 package(s)." in page_text(done)
    assert "Nothing to expire with 24 hours" in page_text(done)
    again = post(staff, "/staff/expiry", grace_hours="24")
    assert "Expired 0.00 hours in 0 package(s)." in page_text(again)
    with app.app_context():
        assert db.session.get(Balance, student_id()).available_minutes == 600


def test_student_sees_hours_on_hold_during_a_dispute(app, client, buy, make_user):
    from storefront.models import Purchase as PurchaseModel

    purchase_id = buy("Basic Package")
    with app.app_context():
        ledger.hold_for_dispute(db.session.get(PurchaseModel, purchase_id), "dp_1")
        sam = db.session.get(PurchaseModel, purchase_id).student
        from storefront.account.passwords import hash_password

        sam.password_hash = hash_password("violet-harbour-lantern-42")
        db.session.commit()
    log_in(client, "sam@example.com")
    text = page_text(client.get("/account"))
    assert "5 hours on hold while a payment dispute is open" in text
    assert "0.00 hours available" in text
