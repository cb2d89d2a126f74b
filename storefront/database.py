"""Database engine set-up that differs by backend."""

from __future__ import annotations

import sqlite3

from flask import Flask
from sqlalchemy import event

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
