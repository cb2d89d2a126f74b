"""Rate limits kept in Redis (RATELIMIT_STORAGE_URI), as production runs them.

Needs a Redis server: TEST_REDIS_URL (CI starts one)."""

from __future__ import annotations

import os

import pytest
import redis

from tests.support import INITIATE_URL

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(not TEST_REDIS_URL, reason="needs TEST_REDIS_URL (CI sets it)")


def test_limits_are_counted_in_redis(make_app, seeded_with):
    store = redis.Redis.from_url(TEST_REDIS_URL)
    store.flushdb()
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=TEST_REDIS_URL,
                   RATELIMIT_INITIATE_IP="2 per hour", RATELIMIT_INITIATE_EMAIL="50 per hour")
    plan_id = seeded_with(app)
    payload = {"plan_id": plan_id, "student_info": {"name": "Ana", "email": "a@example.com"}}
    client = app.test_client()
    assert [client.post(INITIATE_URL, json=payload).status_code for _ in range(3)] == [
        201, 201, 429]
    assert any(b"initiate-ip" in key for key in store.keys("*"))
    # A second app process sharing the same Redis sees the same counters.
    other = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=TEST_REDIS_URL,
                     RATELIMIT_INITIATE_IP="2 per hour", RATELIMIT_INITIATE_EMAIL="50 per hour")
    assert other.test_client().post(INITIATE_URL, json=payload).status_code == 429
    store.flushdb()
    store.close()
