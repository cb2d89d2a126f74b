"""`flask ledger verify` on pending lots: pending minutes are never spent, and the lots'
and balances' pending minutes agree with the ledger's entries."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from storefront.extensions import db
from tests.support import deliver, pay, start_purchase


@pytest.fixture
def pending(app, client, seeded, stripe_emulator):
    """Ana's Basic Package, paid by a bank debit that is still clearing (300 minutes pending)."""
    started = start_purchase(client, seeded["Basic Package"])
    intent = pay(stripe_emulator, started["payment_intent_id"])
    response = deliver(client, "payment_intent.processing",
                       {**intent, "status": "processing"})
    assert response.status_code == 200
    return started, intent


def verify(runner):
    return runner.invoke(args=["ledger", "verify"])


def test_verify_passes_with_pending_hours_and_after_they_clear(runner, client, pending):
    result = verify(runner)
    assert (result.exit_code, "Ledger OK" in result.output) == (0, True), result.output
    deliver(client, "payment_intent.succeeded", pending[1])
    result = verify(runner)
    assert (result.exit_code, "Ledger OK" in result.output) == (0, True), result.output


def test_ledger_show_lists_pending_minutes(runner, pending):
    result = runner.invoke(args=["ledger", "show", "ana@example.com"])
    assert result.exit_code == 0
    assert "5.00 hours pending" in result.output


def _forge(app, *statements: str) -> None:
    with app.app_context():
        for statement in statements:
            db.session.execute(text(statement))
        db.session.commit()


def test_verify_catches_spent_pending_minutes(app, runner, pending):
    # A session drawn from the lot while its payment was still clearing, with a matching
    # adjustment so that the balance still adds up: only the pending rule can tell.
    _forge(app,
           "INSERT INTO ledger_entries (student_id, lot_id, kind, minutes, pending_minutes,"
           " reference, session_ref, idempotency_key, created_at)"
           " SELECT student_id, lot_id, 'consumption', -60, 0, 'lesson-1', 'lesson-1',"
           " 'forged-consumption', created_at FROM ledger_entries",
           "INSERT INTO ledger_entries (student_id, lot_id, kind, minutes, pending_minutes,"
           " reference, idempotency_key, created_at)"
           " SELECT student_id, lot_id, 'adjustment', 60, 0, 'forged', 'forged-adjustment',"
           " created_at FROM ledger_entries WHERE kind = 'pending_credit'")
    result = verify(runner)
    assert result.exit_code == 1
    assert "lot 1: 60 minutes drawn (consumption) before its payment cleared" in result.output


@pytest.mark.parametrize(("corruption", "complaint"), [
    ("UPDATE balances SET pending_minutes = 0",
     "student 1: pending 0 != sum of pending entries 300"),
    ("UPDATE lots SET minutes_pending = 0",
     "lot 1: pending 0 != sum of its pending entries 300"),
    ("UPDATE purchases SET status = 'completed', paid_at = created_at",
     "lot 1: 300 minutes still pending, but purchase 1 is completed"),
])
def test_verify_catches_pending_minutes_out_of_step(app, runner, pending, corruption, complaint):
    _forge(app, corruption)
    result = verify(runner)
    assert result.exit_code == 1
    assert complaint in result.output


def test_pending_hours_never_expire(app, runner, pending):
    result = runner.invoke(args=["hours", "expire", "--grace-hours", "0"])
    assert result.exit_code == 0 and "Expired 0 minutes in 0 lot(s)." in result.output
    shown = runner.invoke(args=["ledger", "show", "ana@example.com"])
    assert "5.00 hours pending" in shown.output and "expires never" in shown.output
