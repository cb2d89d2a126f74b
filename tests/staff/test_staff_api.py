"""Staff JSON endpoints: consume, cancel, expired packages, extensions; who may call them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storefront import ledger
from storefront.extensions import db
from storefront.models import Balance
from tests.conftest import csrf_token, log_in

ADMIN = "/api/finances/api/admin/"


@pytest.fixture
def staff(app, make_user):
    make_user("staff@example.com", "Staff Member", staff=True)
    client = app.test_client()
    log_in(client, "staff@example.com")
    token = csrf_token(client)

    def post(path, body):
        return client.post(ADMIN + path, json=body, headers={"X-CSRFToken": token})

    client.post_json = post
    return client


def balance(app, student_id) -> int:
    with app.app_context():
        assert ledger.verify_ledger() == []
        return db.session.get(Balance, student_id).available_minutes


def test_consume_201_then_200_with_the_original_then_409_when_short(app, staff, buy,
                                                                   student_id):
    buy("Basic Package")
    sam = student_id()
    first = staff.post_json("consume/", {"email": "SAM@example.com", "minutes": 90,
                                         "session_ref": "lesson-1"})
    assert first.status_code == 201
    data = first.get_json()
    assert [e["minutes"] for e in data["entries"]] == [-90] and data["repeated"] is False
    again = staff.post_json("consume/", {"email": "sam@example.com", "minutes": 90,
                                         "session_ref": "lesson-1"})
    assert again.status_code == 200 and again.get_json()["entries"] == data["entries"]
    short = staff.post_json("consume/", {"email": "sam@example.com", "minutes": 211,
                                         "session_ref": "lesson-2"})
    assert short.status_code == 409
    body = short.get_json()
    assert body["error_type"] == "insufficient_balance" and body["missing_minutes"] == 1
    assert balance(app, sam) == 210


def test_consume_validation(staff, buy):
    buy("Basic Package")
    cases = [({"email": "x", "minutes": 1, "session_ref": "a"}, 400),
             ({"email": "sam@example.com", "minutes": 0, "session_ref": "a"}, 400),
             ({"email": "sam@example.com", "minutes": "ten", "session_ref": "a"}, 400),
             ({"email": "sam@example.com", "minutes": 10}, 400),
             ({"email": "nobody@example.com", "minutes": 10, "session_ref": "a"}, 404)]
    for body, status in cases:
        assert staff.post_json("consume/", body).status_code == status, body


def test_cancel_returns_the_minutes(app, staff, buy, student_id):
    buy("Basic Package")
    staff.post_json("consume/", {"email": "sam@example.com", "minutes": 120,
                                 "session_ref": "lesson/7"})
    response = staff.post_json("consume/lesson/7/cancel/", {})
    assert response.status_code == 200 and response.get_json()["minutes_returned"] == 120
    assert balance(app, student_id()) == 300
    assert staff.post_json("consume/unknown/cancel/", {}).status_code == 404


def test_cancelling_one_session_never_cancels_another(app, staff, buy, student_id):
    """Session references are matched exactly: "_" and "%" are plain characters."""
    buy("Basic Package")
    sam = student_id()
    for ref in ("refX1", "ref_1", "50%"):
        assert staff.post_json("consume/", {"email": "sam@example.com", "minutes": 60,
                                            "session_ref": ref}).status_code == 201
    assert staff.post_json("consume/refX1/cancel/", {}).status_code == 200
    assert balance(app, sam) == 180
    cancelled = staff.post_json("consume/ref_1/cancel/", {})
    assert cancelled.status_code == 200
    body = cancelled.get_json()
    assert body["session_ref"] == "ref_1" and body["minutes_returned"] == 60
    assert {e["reference"] for e in body["entries"]} == {"ref_1"}
    assert balance(app, sam) == 240
    # Repeating a cancellation returns that session's own entries, changing nothing.
    again = staff.post_json("consume/ref_1/cancel/", {}).get_json()
    assert again["entries"] == body["entries"] and balance(app, sam) == 240
    assert staff.post_json("consume/50%25/cancel/", {}).get_json()["minutes_returned"] == 60
    assert staff.post_json("consume/ref%25/cancel/", {}).status_code == 404
    assert balance(app, sam) == 300


def test_expired_packages_list_and_process(app, staff, buy, student_id):
    buy("Basic Package", expires_in=timedelta(hours=-30))
    buy("Standard Package", expires_in=timedelta(hours=-2))
    listed = staff.get(ADMIN + "expired-packages/?grace_hours=24").get_json()
    assert listed["count"] == 1 and listed["results"][0]["hours_remaining"] == "5.00"
    assert staff.get(ADMIN + "expired-packages/?grace_hours=0").get_json()["count"] == 2
    dry = staff.post_json("process-expired-packages/", {"grace_hours": 0, "dry_run": True})
    assert dry.get_json()["processed"] == 2 and balance(app, student_id()) == 900
    done = staff.post_json("process-expired-packages/", {"grace_hours": 24}).get_json()
    assert (done["processed"], done["hours_expired"]) == (1, "5.00")
    again = staff.post_json("process-expired-packages/", {"grace_hours": 24}).get_json()
    assert again["processed"] == 0 and balance(app, student_id()) == 600


def test_extend_package(staff, buy):
    purchase = buy("Basic Package", expires_in=timedelta(days=2))
    response = staff.post_json(f"packages/{purchase}/extend/",
                               {"extension_days": 10, "reason": "Teacher was ill"})
    assert response.status_code == 200
    assert response.get_json()["entry"]["kind"] == "expiry_extension"
    assert staff.post_json(f"packages/{purchase}/extend/",
                           {"extension_days": 0, "reason": "x"}).status_code == 400
    assert staff.post_json("packages/9999/extend/",
                           {"extension_days": 3, "reason": "x"}).status_code == 404


def test_only_staff(app, client, make_user, buy):
    buy("Basic Package")
    assert client.get(ADMIN + "expired-packages/").status_code == 401
    assert client.post(ADMIN + "consume/", json={}).status_code == 401
    make_user("eve@example.com", "Eve Student")
    log_in(client, "eve@example.com")
    assert client.get(ADMIN + "expired-packages/").status_code == 403
    response = client.post(ADMIN + "consume/", json={"email": "sam@example.com", "minutes": 1,
                                                      "session_ref": "x"},
                           headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 403


def test_staff_post_needs_csrf(staff, buy):
    buy("Basic Package")
    response = staff.post(ADMIN + "consume/", json={"email": "sam@example.com", "minutes": 1,
                                                     "session_ref": "x"})
    assert response.status_code == 403


def test_cancel_names_the_student_when_a_reference_is_shared(app, staff, buy, student_id):
    buy("Basic Package", email="sam@example.com")
    buy("Basic Package", email="kim@example.com")
    for email in ("sam@example.com", "kim@example.com"):
        assert staff.post_json("consume/", {"email": email, "minutes": 60,
                                            "session_ref": "group-1"}).status_code == 201
    ambiguous = staff.post_json("consume/group-1/cancel/", {})
    assert ambiguous.status_code == 400 and "give the email" in ambiguous.get_json()["message"]
    done = staff.post_json("consume/group-1/cancel/", {"email": "kim@example.com"})
    assert done.status_code == 200
    assert balance(app, student_id("kim@example.com")) == 300
    assert balance(app, student_id("sam@example.com")) == 240
    again = staff.post_json("consume/", {"email": "kim@example.com", "minutes": 60,
                                         "session_ref": "group-1"})
    assert again.status_code == 409 and again.get_json()["error_type"] == "session_ref_conflict"


@pytest.mark.parametrize("body", [-2685376191, [], "sam@example.com", True])
def test_cancel_with_a_body_that_is_not_an_object_is_a_validation_error(staff, buy, body):
    """Found by fuzzing: a JSON number as the body was a 500."""
    buy("Basic Package")
    assert staff.post_json("consume/", {"email": "sam@example.com", "minutes": 30,
                                        "session_ref": "lesson-1"}).status_code == 201
    response = staff.post_json("consume/lesson-1/cancel/", body)
    assert response.status_code == 400
    assert response.get_json()["error_type"] == "validation_error"
    assert response.get_json()["field_errors"] == {"non_field_errors": ["Send a JSON object."]}
