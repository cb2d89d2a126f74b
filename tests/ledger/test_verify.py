"""`flask ledger verify` and `flask ledger show`, and the append-only rule."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storefront.extensions import db
from tests.support import WEBHOOK_PATH, pay, signed_event, start_purchase


@pytest.fixture
def credited(client, seeded, stripe_emulator):
    """Ana has paid for the Basic Package and the webhook has credited 300 minutes."""
    started = start_purchase(client, seeded["Basic Package"])
    intent = pay(stripe_emulator, started["payment_intent_id"])
    payload, headers = signed_event("payment_intent.succeeded", intent)
    assert client.post(WEBHOOK_PATH, data=payload, headers=headers).status_code == 200
    return started


def test_ledger_show_json(runner, credited):
    result = runner.invoke(args=["ledger", "show", "ANA@example.com", "--json"])
    assert result.exit_code == 0
    shown = json.loads(result.output)
    assert shown["email"] == "ana@example.com" and shown["available_minutes"] == 300
    [lot] = shown["lots"]
    assert (lot["purchase_id"], lot["minutes_granted"], lot["minutes_remaining"]) == (
        credited["transaction_id"], 300, 300)
    assert lot["expires_at"].endswith("Z")
    [entry] = shown["entries"]
    assert (entry["kind"], entry["minutes"], entry["reference"]) == (
        "purchase_credit", 300, credited["payment_intent_id"])
    table = runner.invoke(args=["ledger", "show", "ana@example.com"])
    assert "5.00 hours available" in table.output


def test_ledger_show_unknown_email_fails(runner, app):
    result = runner.invoke(args=["ledger", "show", "nobody@example.com"])
    assert result.exit_code != 0 and "No student" in result.output


def test_verify_passes_on_a_sound_ledger(runner, credited):
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0 and "OK" in result.output


@pytest.mark.parametrize(("corruption", "complaint"), [
    ("UPDATE balances SET available_minutes = 999", "balance 999 != sum of entries 300"),
    ("UPDATE lots SET minutes_remaining = 10", "remaining 10 != sum of its entries 300"),
    ("UPDATE purchases SET status = 'completed', paid_at = created_at "
     "WHERE status = 'pending'", "paid but its hours were never credited"),
])
def test_verify_catches_a_corrupted_ledger(runner, app, client, seeded, credited, corruption,
                                           complaint):
    start_purchase(client, seeded["Premium Package"], email="bo@example.com")  # pending
    with app.app_context():
        db.session.execute(text(corruption))
        db.session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert complaint in result.output


def test_verify_catches_a_double_credit(runner, app, credited):
    with app.app_context():
        db.session.execute(text(
            "INSERT INTO ledger_entries (student_id, lot_id, kind, minutes, reference,"
            " idempotency_key, created_at) SELECT student_id, lot_id, kind, minutes, reference,"
            " 'forged-second-credit', created_at FROM ledger_entries"))
        db.session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert f"payment {credited['payment_intent_id']}: credited 2 times" in result.output
    assert "balance 300 != sum of entries 600" in result.output


@pytest.mark.parametrize("statement", [
    "UPDATE ledger_entries SET minutes = 1",
    "DELETE FROM ledger_entries",
])
def test_ledger_entries_are_append_only(app, credited, statement):
    with app.app_context():
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()


def test_database_refuses_a_negative_balance(app, credited):
    with app.app_context():
        with pytest.raises(DBAPIError):
            db.session.execute(text("UPDATE balances SET available_minutes = -1"))
        db.session.rollback()


@pytest.fixture
def two_sessions(app, credited):
    """Ana's 300 minutes, with sessions "refX1" and "ref_1" of 60 minutes each recorded."""
    from storefront import ledger
    from storefront.models import User
    from storefront.models.base import utcnow

    with app.app_context():
        ana = db.session.scalars(db.select(User).where(User.email == "ana@example.com")).one()
        for ref in ("refX1", "ref_1"):
            ledger.consume_minutes(student_id=ana.id, minutes=60, session_ref=ref, now=utcnow())
        db.session.commit()
        return ana.id


def _plant(app, student_id: int, kind: str, minutes: int, session_ref: str) -> int:
    """Write an entry as faulty code would, keeping the lot and balance caches in step."""
    from storefront.models import Balance, LedgerEntry, Lot

    with app.app_context():
        lot = db.session.scalars(db.select(Lot).where(Lot.student_id == student_id)).one()
        db.session.add(LedgerEntry(student_id=student_id, lot_id=lot.id, kind=kind,
                                   minutes=minutes, reference=session_ref,
                                   session_ref=session_ref,
                                   idempotency_key=f"planted:{kind}:{session_ref}"))
        lot.minutes_remaining += minutes
        db.session.get(Balance, student_id).available_minutes += minutes
        db.session.commit()
        return lot.id


def test_verify_catches_a_cancellation_that_returned_nothing(runner, app, two_sessions):
    lot_id = _plant(app, two_sessions, "cancellation_unreturned", 0, "ref_1")
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert (f"session 'ref_1' of student {two_sessions}: cancelled, but 60 minutes on lot "
            f"{lot_id} were not returned though the lot had neither expired nor been lost "
            "in a dispute") in result.output


def test_verify_catches_a_cancellation_returning_another_sessions_minutes(runner, app,
                                                                          two_sessions):
    lot_id = _plant(app, two_sessions, "consumption_reversal", 90, "ref_1")
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert (f"session 'ref_1' of student {two_sessions}: 90 minutes returned to lot "
            f"{lot_id}, which gave it 60") in result.output
    _plant(app, two_sessions, "consumption_reversal", 30, "ref_9")
    result = runner.invoke(args=["ledger", "verify"])
    assert (f"session 'ref_9' of student {two_sessions}: 30 minutes returned to lot "
            f"{lot_id}, which gave it 0") in result.output


def test_verify_passes_after_cancellations(runner, app, two_sessions):
    from storefront import ledger
    from storefront.models.base import utcnow

    with app.app_context():
        ledger.cancel_consumption(student_id=two_sessions, session_ref="ref_1", now=utcnow())
        db.session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def subscription_month(app, client, seeded, make_user):
    """Sam's Student Subscription: one paid invoice credited 900 minutes."""
    import time

    from storefront.models import Purchase
    from tests.support import deliver
    from tests.webhooks.billing_objects import DAY, invoice_object

    student = make_user()
    invoice = invoice_object("in_v", "sub_v", period_start=int(time.time()) - DAY,
                             student_id=student, plan_id=seeded["Student Subscription"])
    assert deliver(client, "invoice.paid", invoice).status_code == 200
    with app.app_context():
        return db.session.scalars(db.select(Purchase.id)).one()


def test_verify_passes_with_a_subscription_month(runner, subscription_month):
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("corruption", "complaint"), [
    ("INSERT INTO ledger_entries (student_id, lot_id, kind, minutes, reference,"
     " idempotency_key, created_at) SELECT student_id, lot_id, kind, minutes, 'forged',"
     " 'forged-second-credit', created_at FROM ledger_entries", "credited 2 times"),
    ("UPDATE purchases SET stripe_invoice_id = NULL", "subscription month without its invoice"),
    ("UPDATE lots SET expires_at = (SELECT period_start FROM purchases"
     " WHERE purchases.id = lots.purchase_id)", "its hours expire before its billing period ends"),
])
def test_verify_catches_a_corrupted_subscription_month(runner, app, subscription_month,
                                                       corruption, complaint):
    with app.app_context():
        db.session.execute(text(corruption))
        db.session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert f"purchase {subscription_month}: {complaint}" in result.output


@pytest.mark.postgres_only
def test_verify_reads_one_snapshot_while_sessions_are_recorded(runner, app, credited):
    """A session committed while `ledger verify` reads (between its statements) is not a
    mismatch: the check sees the ledger as it was at one moment."""
    import threading

    from sqlalchemy import event

    from storefront import ledger
    from storefront.models import User
    from storefront.models.base import utcnow

    with app.app_context():
        ana = db.session.scalars(db.select(User).where(User.email == "ana@example.com")).one()
        engine, ana_id = db.engine, ana.id

    def record_a_session() -> None:
        with app.app_context():
            ledger.consume_minutes(student_id=ana_id, minutes=60, session_ref="meanwhile",
                                   now=utcnow())
            db.session.commit()

    written = []

    def after_first_read(conn, cursor, statement, parameters, context, executemany):
        if "GROUP BY ledger_entries.student_id" in statement and not written:
            written.append(statement)
            writer = threading.Thread(target=record_a_session)
            writer.start()
            writer.join(timeout=30)

    event.listen(engine, "after_cursor_execute", after_first_read)
    try:
        result = runner.invoke(args=["ledger", "verify"])
    finally:
        event.remove(engine, "after_cursor_execute", after_first_read)
    assert written, "verify never read the entries' sums"
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    again = runner.invoke(args=["ledger", "show", "ana@example.com", "--json"])
    assert json.loads(again.output)["available_minutes"] == 240  # the session did land
