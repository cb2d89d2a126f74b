"""Numbers typed or sent by clients: only ASCII digits, within bounds, else a 400 naming the
field (never a 500, never another script's digit read as a number)."""

from __future__ import annotations

import pytest

from storefront.extensions import db
from storefront.models import LedgerEntry, Purchase
from storefront.validation import FieldError, clean_int
from tests.conftest import csrf_token, log_in

API = "/api/finances/api/"
INITIATE = API + "purchase/initiate/"

# Digits of other scripts, superscripts, huge numbers, floats, booleans, signs and spaces.
ODD_STRINGS = ["²", "١", "۱", "１", "9" * 5000, "9" * 30, "1.0", "1e3", "0x1", "+1", "1 000",
               "", " ", "1\n1"]


@pytest.mark.parametrize("value", [*ODD_STRINGS, 1.0, True, False, 2**31, -(2**31) - 1,
                                   [1], {"id": 1}])
def test_clean_int_refuses_anything_but_ascii_digits_in_range(value):
    with pytest.raises(FieldError):
        clean_int(value)


@pytest.mark.parametrize(("value", "number"), [("7", 7), (" 7 ", 7), (7, 7), ("-3", -3),
                                               ("0012", 12), (2**31 - 1, 2**31 - 1)])
def test_clean_int_reads_plain_integers(value, number):
    assert clean_int(value) == number


def _validation_error(response, field: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["success"] is False and body["error_type"] == "validation_error"
    assert field in body["field_errors"] and body["message"].startswith(f"{field}: ")


@pytest.mark.parametrize("plan_id", [*ODD_STRINGS, 1.0, 2**31, 10**23, -(2**31) - 1])
def test_initiate_refuses_odd_plan_ids(app, client, seeded, plan_id):
    response = client.post(INITIATE, json={
        "plan_id": plan_id, "student_info": {"name": "Ana Silva", "email": "ana@example.com"}})
    _validation_error(response, "plan_id")
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Purchase)) == 0


def test_initiate_refuses_a_json_number_of_5000_digits(client, seeded):
    body = b'{"plan_id": ' + b"9" * 5000 + b', "student_info": {"name": "A", "email": "a@b.cd"}}'
    response = client.post(INITIATE, data=body, content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error_type"] == "validation_error"


@pytest.fixture
def student(client, make_user):
    make_user("sam@example.com", "Sam Student")
    log_in(client, "sam@example.com")
    return client


@pytest.mark.parametrize("field", ["page", "page_size"])
@pytest.mark.parametrize("value", ["²", "١", "9" * 5000, "9" * 30, "1.5", "-1", "0"])
def test_history_refuses_odd_page_numbers(student, field, value):
    response = student.get(API + "student-balance/history/", query_string={field: value})
    _validation_error(response, field)


@pytest.mark.parametrize("value", ["١", "١.٥", "²", "NaN", "Infinity", "1e3", "9" * 5000, "0",
                                   "-1", ""])
def test_check_booking_refuses_odd_durations(student, value):
    response = student.get(API + "student-balance/check-booking/",
                           query_string={"duration_hours": value})
    _validation_error(response, "duration_hours")


@pytest.fixture
def staff(app, make_user):
    make_user("staff@example.com", "Staff Member", staff=True)
    client = app.test_client()
    log_in(client, "staff@example.com")
    token = csrf_token(client)
    client.post_json = lambda path, body: client.post(API + "admin/" + path, json=body,
                                                      headers={"X-CSRFToken": token})
    return client


@pytest.mark.parametrize("minutes", [*ODD_STRINGS, 1.5, True, 10**30])
def test_staff_consume_refuses_odd_minutes(app, staff, buy, minutes):
    buy("Basic Package")
    response = staff.post_json("consume/", {"email": "sam@example.com", "minutes": minutes,
                                            "session_ref": "lesson-1"})
    _validation_error(response, "minutes")
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(LedgerEntry).where(
            LedgerEntry.kind != "purchase_credit")) == 0


@pytest.mark.parametrize("grace", ["9" * 30, 10**30, "²", "١", "-1", 24 * 365 * 100])
def test_staff_expiry_refuses_odd_grace_hours(staff, grace):
    listed = staff.get(API + "admin/expired-packages/", query_string={"grace_hours": grace})
    _validation_error(listed, "grace_hours")
    processed = staff.post_json("process-expired-packages/", {"grace_hours": grace})
    _validation_error(processed, "grace_hours")


@pytest.mark.parametrize("days", ["9" * 30, 10**30, "١", 1.0])
def test_staff_extend_refuses_odd_days(staff, buy, days):
    purchase_id = buy("Basic Package")
    response = staff.post_json(f"packages/{purchase_id}/extend/",
                               {"extension_days": days, "reason": "illness"})
    _validation_error(response, "extension_days")


def _page_post(client, url: str, **fields):
    return client.post(url, data={"csrf_token": csrf_token(client), **fields},
                       follow_redirects=True)


@pytest.mark.parametrize("grace", ["9" * 30, "²", "١"])
def test_staff_expiry_page_refuses_odd_grace_hours(staff, grace):
    assert staff.get("/staff/expiry", query_string={"grace_hours": grace}).status_code == 200
    response = _page_post(staff, "/staff/expiry", grace_hours=grace)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Grace (hours): " in page and "package(s)." not in page


@pytest.mark.parametrize("hours", ["١", "١.٥", "NaN", "Infinity", "9" * 5000])
def test_staff_session_page_refuses_odd_hours(app, staff, buy, student_id, hours):
    buy("Basic Package")
    response = _page_post(staff, f"/staff/students/{student_id()}/sessions", hours=hours,
                          session_ref="lesson-1")
    assert response.status_code == 200
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(LedgerEntry).where(
            LedgerEntry.kind != "purchase_credit")) == 0


@pytest.mark.parametrize("field", ["validity_days", "display_order"])
@pytest.mark.parametrize("value", ["١", "9" * 30, "²"])
def test_staff_plan_form_refuses_odd_integers(app, staff, field, value):
    fields = {"name": "Odd Package", "plan_type": "package", "hours_included": "5",
              "price": "75", "validity_days": "30", "display_order": "1", "is_active": "y"}
    response = _page_post(staff, "/staff/plans/new", **{**fields, field: value})
    assert response.status_code == 400
    with app.app_context():
        from storefront.models import PricingPlan

        assert db.session.scalars(db.select(PricingPlan).where(
            PricingPlan.name == "Odd Package")).first() is None


@pytest.mark.parametrize("path", ["/checkout/١", "/checkout/purchase/١", "/staff/students/١"])
def test_ids_in_paths_are_ascii_digits(staff, seeded, path):
    assert staff.get(path).status_code == 404


@pytest.mark.parametrize("args", [["hours", "expire", "--grace-hours", "9" * 30],
                                  ["hours", "expire", "--grace-hours", "١"],
                                  ["hours", "notify-expiring", "--days", "9" * 30],
                                  ["stripe", "reconcile", "--since", "²h"],
                                  ["stripe", "reconcile", "--since", "١h"],
                                  ["stripe", "reconcile", "--since", "9" * 30 + "d"]])
def test_commands_refuse_odd_numbers(runner, args):
    result = runner.invoke(args=args)
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output
