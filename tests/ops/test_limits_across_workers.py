"""Rate limits under gunicorn with two workers and the limits kept in a real Redis: a limit
holds for the requests of both workers together; with PROXY_FIX_X_FOR=1 the client is the
last X-Forwarded-For hop (what our proxy saw), and without a proxy configured a forged
X-Forwarded-For changes nothing."""

from __future__ import annotations

import uuid

import pytest

from tests.ops.conftest import Visitor, staging_environment
from tests.support import all_at_once

LOGIN = "/account/login"
LIMIT = 4


@pytest.fixture
def site(make_app, database, mailbox, fresh_redis, gunicorn):
    """site(**settings) -> a staging deployment under gunicorn (2 workers) on this test's
    database, with the login limits counted in Redis."""
    make_app()  # a fresh, migrated database

    def start(**settings: str):
        env = staging_environment(database.url, fresh_redis, mailbox.port)
        env.update({"RATELIMIT_LOGIN_EMAIL_IP": f"{LIMIT} per hour",
                    "RATELIMIT_LOGIN_IP": "1000 per hour",
                    "RATELIMIT_LOGIN_EMAIL": "1000 per hour", **settings})
        return gunicorn(env)

    return start


def _failed_logins(visitor: Visitor, count: int, forwarded_for: list[str] | None = None,
                   email: str = "ana@example.com") -> list[tuple[int, str]]:
    """`count` wrong-password logins, two at a time; (status, request id) of each."""
    token = visitor.csrf_token(LOGIN)

    def attempt(index: int) -> tuple[int, str]:
        request_id = uuid.uuid4().hex
        headers = {"X-Request-ID": request_id}
        if forwarded_for:
            headers["X-Forwarded-For"] = forwarded_for[index % len(forwarded_for)]
        response = visitor.post(LOGIN, headers=headers, data={
            "csrf_token": token, "email": email, "password": "not-the-password"})
        return response.status_code, request_id

    results: list[tuple[int, str]] = []
    for start in range(0, count, 2):
        results += all_at_once(attempt, list(range(start, min(start + 2, count))))
    return results


def _statuses(results: list[tuple[int, str]]) -> list[int]:
    return sorted(status for status, _ in results)


def test_a_limit_holds_across_both_workers(site):
    server = site()
    visitor = Visitor(server.url)
    form = {"csrf_token": visitor.csrf_token(LOGIN), "email": "ana@example.com",
            "password": "not-the-password"}
    answers: dict[str, int] = {}

    def post() -> None:
        request_id = uuid.uuid4().hex
        answers[request_id] = visitor.post(LOGIN, data=form,
                                           headers={"X-Request-ID": request_id}).status_code

    def held():
        request_id = uuid.uuid4().hex
        return request_id, visitor.held_post(LOGIN, form, {"X-Request-ID": request_id})

    # A held request keeps the worker that took it busy, so the next ones go to the other.
    first_id, first = held()
    for _ in range(LIMIT - 1):
        post()
    second_id, second = held()
    answers[first_id] = first.finish()
    for _ in range(2):
        post()
    answers[second_id] = second.finish()

    assert sorted(answers.values()) == [400] * LIMIT + [429] * 3
    workers = server.workers_by_request()
    by_worker: dict[str, list[int]] = {}
    for request_id, status in answers.items():
        by_worker.setdefault(workers[request_id], []).append(status)
    # Both workers answered; counted per worker, each would have let LIMIT attempts through.
    assert len(by_worker) == 2, by_worker
    assert all(429 in statuses for statuses in by_worker.values()), by_worker


def test_behind_one_proxy_the_last_forwarded_hop_is_the_client(site):
    server = site(PROXY_FIX_X_FOR="1")
    visitor = Visitor(server.url)
    # Whatever a client puts in front, our proxy appends the address it saw: that one counts.
    forged = ["203.0.113.1, 198.51.100.7", "203.0.113.2, 198.51.100.7", "198.51.100.7"]
    assert _statuses(_failed_logins(visitor, 6, forged)) == [400] * LIMIT + [429] * 2
    # Another client behind the same proxy has a count of its own.
    assert _statuses(_failed_logins(visitor, 2, ["198.51.100.8"])) == [400, 400]


def test_without_a_proxy_a_forged_forwarded_for_does_not_escape_the_limit(site):
    server = site()  # PROXY_FIX_X_FOR unset: X-Forwarded-For is not trusted
    forged = [f"203.0.113.{n}" for n in range(1, 11)]
    results = _failed_logins(Visitor(server.url), 10, forged)
    assert _statuses(results) == [400] * LIMIT + [429] * (10 - LIMIT)
