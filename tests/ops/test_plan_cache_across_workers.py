"""Two app processes sharing the plan cache in Redis, as gunicorn's workers do: they give
the same ETag for the same plans, each serves the listing from its own copy without asking
Redis on every request, and a plan edited through one is a new ETag and a new price on the
other as soon as Redis has told it (at once when it cannot be told)."""

from __future__ import annotations

import pytest
import redis
from sqlalchemy import event

from storefront.catalog.services import PLANS_CHANGED_CHANNEL
from storefront.extensions import db
from tests.conftest import csrf_token, log_in
from tests.support import wait_for

PLANS_URL = "/api/finances/api/pricing-plans/"
# A message from Redis reaches another worker in milliseconds; this is a generous bound.
DELIVERY_SECONDS = 2.0


@pytest.fixture
def store(fresh_redis):
    client = redis.Redis.from_url(fresh_redis)
    yield client
    client.close()


@pytest.fixture
def workers(make_app, fresh_redis):
    """Two apps sharing the plan cache in Redis, as two gunicorn workers do."""
    shared = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": fresh_redis}
    return make_app(**shared), make_app(**shared)


@pytest.fixture
def staff_on(make_user):
    def staff_client(app):
        make_user("staff@example.com", "Staff Member", staff=True)
        client = app.test_client()
        log_in(client, "staff@example.com")
        return client

    return staff_client


def _listening(store, count: int):
    return lambda: store.pubsub_numsub(PLANS_CHANGED_CHANNEL)[0][1] >= count


def _set_price(staff, plan_id: int, price: str):
    return staff.post(f"/staff/plans/{plan_id}", data={
        "csrf_token": csrf_token(staff), "name": "Basic Package", "description": "Five hours",
        "plan_type": "package", "hours_included": "5", "price": price,
        "validity_days": "30", "display_order": "1", "is_active": "y"})


def _shows(client, price: str):
    return lambda: price in client.get("/").get_data(as_text=True)


def _plan_reads(store) -> int:
    stats = store.info("commandstats")
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("get", "mget"))


def test_a_plan_edited_on_one_worker_is_a_new_etag_on_the_other(workers, store, seeded_with,
                                                                 staff_on):
    first, second = workers
    basic = seeded_with(first)
    visitor = second.test_client()
    before = visitor.get("/")
    assert first.test_client().get("/").headers["ETag"] == before.headers["ETag"]
    wait_for(_listening(store, 2), timeout=DELIVERY_SECONDS)
    assert visitor.get("/", headers={"If-None-Match": before.headers["ETag"]}).status_code == 304

    assert _set_price(staff_on(first), basic, "79.00").status_code == 302

    wait_for(_shows(visitor, "€79.00"), timeout=DELIVERY_SECONDS)
    after = visitor.get("/", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert visitor.get(PLANS_URL).get_json()[0]["price_eur"] == "79.00"


def test_the_plans_page_and_pricing_json_do_not_ask_redis_on_every_request(
        workers, store, seeded_with):
    _, second = workers
    seeded_with(second)
    visitor = second.test_client()
    etag = visitor.get("/").headers["ETag"]
    wait_for(_listening(store, 1), timeout=DELIVERY_SECONDS)
    visitor.get("/")  # read through once more now that changes are heard: kept from here on
    reads = _plan_reads(store)
    for _ in range(10):
        assert "€75.00" in visitor.get("/").get_data(as_text=True)
        assert visitor.get("/", headers={"If-None-Match": etag}).status_code == 304
        assert visitor.get(PLANS_URL).status_code == 200
    assert _plan_reads(store) == reads


def test_a_worker_that_cannot_hear_changes_reads_them_from_redis(workers, store, seeded_with,
                                                                  staff_on):
    first, second = workers
    basic = seeded_with(first)
    visitor = second.test_client()
    visitor.get("/")
    wait_for(_listening(store, 1), timeout=DELIVERY_SECONDS)
    assert "€75.00" in visitor.get("/").get_data(as_text=True)  # kept by the second worker
    staff = staff_on(first)
    try:
        # Nobody may use the channel any more (Redis drops the subscribers), then the edit:
        # its message reaches nobody, yet the second worker shows it.
        store.execute_command("ACL", "SETUSER", "default", "resetchannels")
        store.client_kill_filter(_type="pubsub")
        wait_for(lambda: not _listening(store, 1)(), timeout=DELIVERY_SECONDS)
        assert _set_price(staff, basic, "81.00").status_code == 302
        wait_for(_shows(visitor, "€81.00"), timeout=DELIVERY_SECONDS)
    finally:
        store.execute_command("ACL", "SETUSER", "default", "allchannels")
    # Heard again: the next change arrives by message.
    wait_for(_listening(store, 1), timeout=10)
    assert _set_price(staff, basic, "83.00").status_code == 302
    wait_for(_shows(visitor, "€83.00"), timeout=DELIVERY_SECONDS)


@pytest.mark.postgres_only
def test_a_worker_that_read_the_old_plans_does_not_put_them_back_after_a_change(
        workers, store, seeded_with, staff_on):
    first, second = workers
    basic = seeded_with(first)
    staff = staff_on(first)
    with second.app_context():
        engine = db.engine
    edits = []

    def edit_meanwhile(conn, cursor, statement, parameters, context, executemany):
        # The second worker has just read the old plans; a staff edit commits before it
        # stores them in the shared cache.
        if "FROM pricing_plans" in statement and "is_active" in statement and not edits:
            edits.append(_set_price(staff, basic, "85.00").status_code)

    event.listen(engine, "after_cursor_execute", edit_meanwhile)
    try:
        assert "€75.00" in second.test_client().get("/").get_data(as_text=True)
    finally:
        event.remove(engine, "after_cursor_execute", edit_meanwhile)
    assert edits == [302]
    wait_for(_shows(second.test_client(), "€85.00"), timeout=DELIVERY_SECONDS)
    assert "€85.00" in first.test_client().get("/").get_data(as_text=True)
