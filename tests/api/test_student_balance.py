"""The student-balance endpoints: shapes, filters, pagination, staff access, errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storefront import ledger
from storefront.extensions import db
from storefront.models import Lot, User
from storefront.models.base import utcnow
from tests.account.test_guest_claim_and_dashboard import _buy, _expire_in
from tests.conftest import log_in

BASE = "/api/finances/api/student-balance/"


@pytest.fixture
def sam(app, client, seeded, stripe_emulator, make_user):
    """Sam: Premium (20 h, 2 h used), Basic expiring in 3 days, Standard expired."""
    make_user("sam@example.com", "Sam Student")
    premium = _buy(client, stripe_emulator, seeded["Premium Package"])
    basic = _buy(client, stripe_emulator, seeded["Basic Package"])
    standard = _buy(client, stripe_emulator, seeded["Standard Package"])
    _expire_in(app, basic, timedelta(days=3))
    _expire_in(app, standard, timedelta(days=-1))
    with app.app_context():
        student = db.session.scalars(db.select(User).where(User.email == "sam@example.com")).one()
        premium_lot = db.session.scalars(db.select(Lot).where(Lot.purchase_id == premium)).one()
        premium_lot.expires_at = utcnow() + timedelta(days=30)
        db.session.flush()
        ledger.consume_minutes(student_id=student.id, minutes=120, session_ref="s-1",
                               now=utcnow() + timedelta(days=5))  # Basic is out of reach then
        db.session.commit()
    log_in(client, "sam@example.com")
    return {"premium": premium, "basic": basic, "standard": standard}


def test_anonymous_gets_401(client):
    for path in ("", "summary/", "history/", "purchases/", "check-booking/?duration_hours=1"):
        response = client.get(BASE + path)
        assert response.status_code == 401 and "detail" in response.get_json()


def test_summary(client, sam):
    data = client.get(BASE + "summary/").get_json()
    assert client.get(BASE).get_json() == data
    assert data["student_info"]["email"] == "sam@example.com"
    assert data["balance_summary"] == {
        "hours_purchased": "35.00", "hours_consumed": "2.00", "hours_expired": "10.00",
        "hours_refunded": "0.00",
        "remaining_hours": "23.00",
        # 18 h of 20 h at 260.00 + 5 h of 5 h at 75.00
        "balance_amount": "309.00", "balance_amounts": {"eur": "309.00"},
    }
    active = {p["transaction_id"]: p for p in data["package_status"]["active_packages"]}
    assert active[sam["premium"]]["hours_remaining"] == "18.00"
    assert active[sam["premium"]]["hours_consumed"] == "2.00"
    assert active[sam["basic"]]["days_until_expiry"] == 3
    assert active[sam["basic"]]["is_expired"] is False
    assert active[sam["basic"]]["expires_at"].endswith("Z")
    [expired] = data["package_status"]["expired_packages"]
    assert (expired["transaction_id"], expired["is_expired"]) == (sam["standard"], True)
    assert [u["transaction_id"] for u in data["upcoming_expirations"]] == [sam["basic"]]
    assert set(data["upcoming_expirations"][0]) == {
        "transaction_id", "plan_name", "hours_remaining", "expires_at", "days_until_expiry"}


def test_history_paginates_newest_first_and_filters(app, client, seeded, sam):
    from tests.support import start_purchase

    # One more, still pending.
    start_purchase(app.test_client(), seeded["Intensive Package"], email="sam@example.com")
    data = client.get(BASE + "history/?page_size=2").get_json()
    assert data["count"] == 4 and len(data["results"]) == 2 and data["previous"] is None
    assert data["results"][0]["payment_status"] == "pending"
    assert data["results"][0]["amount"] == "480.00"
    second = client.get(data["next"].split("localhost", 1)[1]).get_json()
    assert [r["transaction_id"] for r in second["results"]] == [sam["basic"], sam["premium"]]
    assert second["next"] is None and second["previous"]
    completed = client.get(BASE + "history/?payment_status=completed").get_json()
    assert completed["count"] == 3
    assert client.get(BASE + "history/?transaction_type=subscription").get_json()["count"] == 0
    assert client.get(BASE + "history/?page_size=500").status_code == 200
    assert client.get(BASE + "history/?page_size=0").status_code == 400
    assert client.get(BASE + "history/?payment_status=weird").status_code == 400


def test_purchases_completed_only_with_options(app, client, seeded, sam):
    from tests.support import start_purchase

    start_purchase(app.test_client(), seeded["Intensive Package"], email="sam@example.com")
    everything = client.get(BASE + "purchases/").get_json()
    assert everything["count"] == 3
    active = client.get(BASE + "purchases/?active_only=true").get_json()
    assert {r["transaction_id"] for r in active["results"]} == {sam["premium"], sam["basic"]}
    detailed = client.get(BASE + "purchases/?include_consumption=true").get_json()
    premium = next(r for r in detailed["results"] if r["transaction_id"] == sam["premium"])
    assert premium["consumption"] == [{
        "session_ref": "s-1", "kind": "consumption", "hours": "2.00",
        "created_at": premium["consumption"][0]["created_at"]}]
    assert "consumption" not in everything["results"][0]


@pytest.mark.parametrize(("duration", "can_book", "after"), [
    ("1.5", True, "21.50"), ("23", True, "0.00"), ("23.25", False, "0.00")])
def test_check_booking(client, sam, duration, can_book, after):
    data = client.get(BASE + f"check-booking/?duration_hours={duration}").get_json()
    assert data["can_book"] is can_book
    assert data["hours_available"] == "23.00" and data["hours_remaining_after"] == after
    assert data["has_active_packages"] is True and data["active_package_count"] == 2
    assert ("reason" in data) is (not can_book)


@pytest.mark.parametrize("query", ["", "?duration_hours=0", "?duration_hours=-1",
                                   "?duration_hours=abc", "?duration_hours=NaN",
                                   "?duration_hours=1e30", "?duration_hours=0.001"])
def test_check_booking_needs_a_positive_duration(client, sam, query):
    response = client.get(BASE + "check-booking/" + query)
    assert response.status_code == 400 and "duration_hours" in response.get_json()["field_errors"]


def test_check_booking_without_packages(client, make_user):
    make_user("new@example.com")
    log_in(client, "new@example.com")
    data = client.get(BASE + "check-booking/?duration_hours=1").get_json()
    assert data["can_book"] is False and data["reason"] == "No active packages."


def test_staff_may_ask_about_a_student(app, client, sam, make_user):
    make_user("staff@example.com", "Staff Member", staff=True)
    staff = app.test_client()
    log_in(staff, "staff@example.com")
    data = staff.get(BASE + "summary/?email=SAM@example.com").get_json()
    assert data["student_info"]["email"] == "sam@example.com"
    assert staff.get(BASE + "?email=nobody@example.com").status_code == 404
    assert staff.get(BASE + "?email=not-an-email").status_code == 400
    assert staff.get(BASE + "history/?email=sam@example.com").get_json()["count"] == 3


def test_students_may_not_ask_about_others(client, sam):
    response = client.get(BASE + "summary/?email=sam@example.com")
    assert response.status_code == 403 and "detail" in response.get_json()
