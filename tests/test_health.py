"""Operators' probes: /healthz (the process answers; no database) and /readyz (the database
answers and its schema is at the migrations' head; 503 otherwise). Neither is rate limited
nor sets or varies on a session cookie, so that a load balancer can poll them freely."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from storefront.extensions import limiter

UNREACHABLE_DB = "sqlite:////nonexistent-directory/storefront.db"


def assert_no_session(response) -> None:
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")


def test_healthz_answers_without_touching_the_database(make_app):
    client = make_app(SQLALCHEMY_DATABASE_URI=UNREACHABLE_DB).test_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert_no_session(response)


def test_readyz_is_200_on_a_migrated_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ready"
    assert_no_session(response)


def test_readyz_is_503_when_the_database_is_unreachable(make_app):
    client = make_app(SQLALCHEMY_DATABASE_URI=UNREACHABLE_DB).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "reason": "database unreachable"}
    assert_no_session(response)


def test_readyz_is_503_on_a_fresh_database_without_migrations(make_app, tmp_path):
    client = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'empty.db'}").test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable",
                                   "reason": "database schema is not at the migrations' head"}


@pytest.fixture
def schema_behind_head(app, database):
    """The database as if the last migration had not run yet (its alembic version put back)."""
    engine = create_engine(database.url)
    with engine.begin() as connection:
        head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        connection.execute(text("UPDATE alembic_version SET version_num = '0001_initial_schema'"))
    yield
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
    engine.dispose()


def test_readyz_is_503_when_migrations_are_behind_head(client, schema_behind_head):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["reason"] == "database schema is not at the migrations' head"


@pytest.fixture
def default_limit(make_app):
    """An app with a default limit of 2 per hour on every route. The limiter is one object
    shared by every app of the run, and keeps a default limit once given: take it back."""
    yield make_app(RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="2 per hour")
    limiter.limit_manager.set_default_limits([])


def test_probes_are_not_rate_limited(default_limit):
    client = default_limit.test_client()
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
    # The default limit does apply elsewhere (so the probes' exemption is what lets them through).
    statuses = [client.get("/").status_code for _ in range(3)]
    assert statuses[-1] == 429


def test_readyz_polled_all_day_does_not_grow_the_workers_memory(app, client):
    """A load balancer asks /readyz every few seconds: each answer must not leave another
    compiled statement in the database engine's cache (which would grow the workers' memory
    and push out the statements the site's pages reuse)."""
    from storefront.extensions import db

    assert client.get("/readyz").status_code == 200
    with app.app_context():
        cache = db.engine._compiled_cache
    before = len(cache)
    for _ in range(20):
        assert client.get("/readyz").status_code == 200
    assert len(cache) == before
