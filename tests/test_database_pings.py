"""A pooled database connection is checked with a round trip only after sitting idle: a busy
worker's requests cost the database no ping, and a connection left idle (through a database
restart, say) is pinged, and replaced if broken, before a request gets it."""

from __future__ import annotations

from sqlalchemy import event, text

from storefront.extensions import db


def sent_while_connecting_three_times(app) -> list[str]:
    """The SELECTs the driver sent while the app checked a connection out three times in a
    row, each time running one statement and giving the connection back."""
    sent: list[str] = []
    with app.app_context():
        engine = db.engine
        event.listen(engine, "connect",
                     lambda dbapi_connection, _record: dbapi_connection.set_trace_callback(
                         sent.append))
        engine.dispose()  # every connection from now on is traced from its start
        for _ in range(3):
            with engine.connect() as connection:
                connection.execute(text("SELECT 42"))
    return [statement for statement in sent if statement.startswith("SELECT")]


def test_a_connection_used_a_moment_ago_is_not_pinged(make_app, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'pings.db'}")
    assert sent_while_connecting_three_times(app) == ["SELECT 42"] * 3


def test_a_connection_idle_past_the_limit_is_pinged_before_use(make_app, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'pings.db'}",
                   DATABASE_PING_AFTER_IDLE_SECONDS=0)
    assert sent_while_connecting_three_times(app) == [
        "SELECT 42", "SELECT 1", "SELECT 42", "SELECT 1", "SELECT 42"]
