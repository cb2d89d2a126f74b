"""Migrations build, from an empty database, exactly the schema the models describe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import flask_migrate
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from storefront import create_app
from storefront.extensions import db
from storefront.ledger import verify_ledger
from storefront.models.base import UTCDateTime
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


def _drop_empty_database() -> None:
    if TEST_DATABASE_URL:
        admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("DROP DATABASE storefront_migrations"))
        admin.dispose()


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
    _drop_empty_database()


def _insert(connection, table: str, **values) -> int:
    """One row written with plain SQL, as the schema of an older revision has it."""
    columns = [sa.column(name, UTCDateTime() if isinstance(value, datetime) else None)
               for name, value in values.items()]
    return connection.execute(sa.insert(sa.table(table, *columns)).values(**values)
                              .returning(sa.column("id"))).scalar_one()


def _old_cancellation_past_an_expired_package(connection, now: datetime) -> None:
    """Session s-1 drew 60 minutes from a package that later expired and 30 from another;
    cancelled before session references were recorded, it gave the 30 back and, as the
    ledger then did, wrote nothing for the expired package."""
    student = _insert(connection, "users", email="old@example.com", name="Old Student",
                      password_hash=None, is_staff=False, created_at=now,
                      session_token="t" * 32, link_secret="s" * 32)
    connection.execute(sa.insert(sa.table("balances", sa.column("student_id"),
                                          sa.column("available_minutes"),
                                          sa.column("updated_at", UTCDateTime())))
                       .values(student_id=student, available_minutes=60, updated_at=now))
    plan = _insert(connection, "pricing_plans", name="One hour", description="",
                   minutes_included=60,
                   plan_type="package", price_minor=5000, currency="eur", validity_days=30,
                   display_order=1, is_featured=False, is_active=True, created_at=now,
                   updated_at=now)
    lots = []
    for n, expires_at in ((1, now - timedelta(days=2)), (2, now + timedelta(days=20))):
        purchase = _insert(
            connection, "purchases", student_id=student, plan_id=plan, plan_name="One hour",
            plan_type="package", minutes=60, price_minor=5000, currency="eur",
            validity_days=30, status="completed", attempt_key=f"attempt-{n}",
            payment_intent_id=f"pi_old_{n}", created_at=now - timedelta(days=40),
            updated_at=now, paid_at=now - timedelta(days=40), expires_at=expires_at)
        lot = _insert(connection, "lots", student_id=student, purchase_id=purchase,
                      minutes_granted=60, minutes_remaining=0 if n == 1 else 60,
                      expires_at=expires_at, created_at=now - timedelta(days=40),
                      minutes_on_hold=0)
        _insert(connection, "ledger_entries", student_id=student, lot_id=lot,
                kind="purchase_credit", minutes=60, reference=f"pi_old_{n}",
                idempotency_key=f"purchase_credit:pi_old_{n}", created_at=now - timedelta(days=40))
        lots.append(lot)
    for lot, minutes in zip(lots, (60, 30), strict=True):
        _insert(connection, "ledger_entries", student_id=student, lot_id=lot,
                kind="consumption", minutes=-minutes, reference="s-1",
                idempotency_key=f"consumption:{student}:s-1:lot:{lot}",
                created_at=now - timedelta(days=5))
    _insert(connection, "ledger_entries", student_id=student, lot_id=lots[1],
            kind="consumption_reversal", minutes=30, reference="s-1",
            idempotency_key=f"consumption_reversal:cancel:{student}:s-1:lot:{lots[1]}",
            created_at=now - timedelta(days=1))


def test_upgrade_records_what_an_old_cancellation_left_on_an_expired_package(
        tmp_path, stripe_emulator):
    url = _empty_database_url(tmp_path)
    app = create_app(_base_config(url, stripe_emulator.base_url))
    with app.app_context():
        flask_migrate.upgrade(revision="0007_mail_outbox")
        with db.engine.begin() as connection:
            _old_cancellation_past_an_expired_package(connection, datetime.now(UTC))
        flask_migrate.upgrade()
        assert verify_ledger() == []
        unreturned = db.session.execute(text(
            "SELECT idempotency_key, reference, session_ref, note FROM ledger_entries "
            "WHERE kind = 'cancellation_unreturned'")).all()
        assert [tuple(row) for row in unreturned] == [
            ("cancellation_unreturned:cancel:1:s-1:lot:1", "s-1", "s-1",
             "60 minutes not returned: the package had expired")]
        db.session.remove()
        flask_migrate.downgrade(revision="0007_mail_outbox")
        flask_migrate.upgrade()
        assert verify_ledger() == []
        db.session.remove()
        db.engine.dispose()
    _drop_empty_database()
