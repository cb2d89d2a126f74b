"""Database engine set-up that differs by backend."""

from __future__ import annotations

import sqlite3
import time

from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError

from storefront.extensions import db


def configure_sqlite(app: Flask) -> None:
    """On SQLite: foreign keys on, WAL, a busy timeout, and writers serialised by taking the
    write lock at BEGIN (SQLite's stand-in for PostgreSQL's SELECT … FOR UPDATE)."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def configure_pings(app: Flask) -> None:
    """Check a pooled connection with a round trip before use only when it sat idle longer
    than DATABASE_PING_AFTER_IDLE_SECONDS (SQLAlchemy's pool_pre_ping checks before every
    use, one more round trip per request).

    A connection the worker used a moment ago is trusted: a busy worker's requests then
    cost no ping. One that sat idle, through a database restart or a dropped connection, is
    met by the ping and replaced, not by a request. Should a connection break within the
    idle window all the same, the request using it fails (5xx; Stripe retries a webhook) and
    SQLAlchemy replaces every connection of the pool.
    """
    idle_limit = app.config["DATABASE_PING_AFTER_IDLE_SECONDS"]
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "checkin")
    def _idle_from_now(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_limit:
            return  # a new connection, or one in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError("the connection did not answer its ping") from error
