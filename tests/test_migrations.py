"""Migrations build, from an empty database, exactly the schema the models describe."""

from __future__ import annotations

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from storefront import create_app
from storefront.extensions import db
from tests.conftest import TEST_DATABASE_URL, _base_config


def _empty_database_url(tmp_path) -> str:
    if not TEST_DATABASE_URL:
        return f"sqlite:///{tmp_path / 'empty.db'}"
    # A database of its own on the same server, created empty for this test.
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS storefront_migrations"))
        connection.execute(text("CREATE DATABASE storefront_migrations"))
    admin.dispose()
    return TEST_DATABASE_URL.rsplit("/", 1)[0] + "/storefront_migrations"


def test_upgrade_from_empty_matches_the_models_and_downgrades(tmp_path, stripe_emulator):
    url = _empty_database_url(tmp_path)
    app = create_app(_base_config(url, stripe_emulator.base_url))
    with app.app_context():
        assert inspect(db.engine).get_table_names() == []
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
            assert context.get_current_revision() is not None
        flask_migrate.downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()
    if TEST_DATABASE_URL:
        admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("DROP DATABASE storefront_migrations"))
        admin.dispose()
