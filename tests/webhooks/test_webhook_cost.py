"""What one webhook delivery costs the database: a paid package in a handful of statements,
a repeated event in one, and neither costs the student a second credit or a second email."""

from __future__ import annotations

import contextlib

from sqlalchemy import event

from storefront.extensions import db
from storefront.ledger import verify_ledger
from storefront.models import LedgerEntry, OutgoingMail, Purchase, WebhookEvent
from tests.support import deliver

# Record the event, lock the purchase (with its student), credit it and note the event's
# outcome. On PostgreSQL the credit is one statement (the lot and its entry, the balance,
# the purchase marked paid, the email queued, the event's outcome); SQLite, without
# data-modifying CTEs, sends those six one by one.
PAID_PACKAGE_STATEMENTS = {"postgresql": 3, "sqlite": 8}


@contextlib.contextmanager
def counted_statements(app):
    """The SQL statements the app sends while the block runs (transaction control aside)."""
    sent: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        if statement.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            sent.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


def what_the_student_has(app, transaction_id) -> tuple[str, int, int, int]:
    """(purchase status, credited minutes, emails queued to the student, webhook rows)."""
    with app.app_context():
        purchase = db.session.get(Purchase, transaction_id)
        minutes = db.session.scalar(
            db.select(db.func.coalesce(db.func.sum(LedgerEntry.minutes), 0))
            .where(LedgerEntry.student_id == purchase.student_id))
        emails = db.session.scalar(db.select(db.func.count()).select_from(OutgoingMail)
                                   .where(OutgoingMail.to_address == purchase.student.email))
        events = db.session.scalar(db.select(db.func.count()).select_from(WebhookEvent))
        assert verify_ledger() == []
        return purchase.status, minutes, emails, events


def test_a_paid_package_is_credited_in_a_handful_of_statements(app, client, paid):
    transaction_id, intent = paid
    with counted_statements(app) as sent:
        response = deliver(client, "payment_intent.succeeded", intent, event_id="evt_paid")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "OK")
    assert what_the_student_has(app, transaction_id) == ("completed", 300, 1, 1)
    with app.app_context():
        dialect = db.engine.dialect.name
        recorded = db.session.scalars(db.select(WebhookEvent)).one()
        assert (recorded.outcome, recorded.detail) == (
            "processed", f"credited: purchase {transaction_id} ({intent['id']})")
        assert recorded.processed_at is not None
    assert len(sent) <= PAID_PACKAGE_STATEMENTS[dialect], "\n".join(sent)


def test_a_repeated_event_is_answered_in_one_statement_and_changes_nothing(app, client, paid):
    transaction_id, intent = paid
    assert deliver(client, "payment_intent.succeeded", intent,
                   event_id="evt_again").status_code == 200
    for _ in range(2):
        with counted_statements(app) as sent:
            response = deliver(client, "payment_intent.succeeded", intent, event_id="evt_again")
        assert response.status_code == 200
        assert len(sent) == 1, "\n".join(sent)
    assert what_the_student_has(app, transaction_id) == ("completed", 300, 1, 1)
