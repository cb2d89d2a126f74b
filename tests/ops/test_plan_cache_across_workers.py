"""Two app processes sharing the plan cache in Redis, as gunicorn's workers do: they give
the same ETag for the same plans, and a plan edited through one is a new ETag and a new price
on the other at once."""

from __future__ import annotations

from tests.conftest import csrf_token, log_in


def test_a_plan_edited_on_one_worker_is_a_new_etag_on_the_other(make_app, make_user,
                                                                 seeded_with, fresh_redis):
    shared = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": fresh_redis}
    first, second = make_app(**shared), make_app(**shared)
    basic = seeded_with(first)
    visitor = second.test_client()
    before = visitor.get("/")
    assert first.test_client().get("/").headers["ETag"] == before.headers["ETag"]
    assert visitor.get("/", headers={"If-None-Match": before.headers["ETag"]}).status_code == 304

    make_user("staff@example.com", "Staff Member", staff=True)
    staff = first.test_client()
    log_in(staff, "staff@example.com")
    edited = staff.post(f"/staff/plans/{basic}", data={
        "csrf_token": csrf_token(staff), "name": "Basic Package", "description": "Five hours",
        "plan_type": "package", "hours_included": "5", "price": "79.00",
        "validity_days": "30", "display_order": "1", "is_active": "y"})
    assert edited.status_code == 302

    after = visitor.get("/", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert "€79.00" in after.get_data(as_text=True)
