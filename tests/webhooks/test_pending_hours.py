"""A bank payment that clears slowly (SEPA Direct Debit and other delayed methods): while
its PaymentIntent is `processing` the hours are pending (shown, never available, never
booked), `payment_intent.succeeded` makes them available once, dated from the payment,
and `payment_intent.payment_failed` removes them and tells the student. Events are built
from the emulator's real PaymentIntents (it has no delayed methods of its own) and signed
as Stripe signs them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from storefront.extensions import db
from storefront.ledger import verify_ledger
from storefront.models import Balance, EntryKind, LedgerEntry, Lot, Purchase, WebhookEvent
from tests.conftest import csrf_token
from tests.support import (
    LiveServer,
    deliver,
    pay,
    post_webhooks_at_once,
    signed_event,
    start_purchase,
)

DAY = 86400


def processing(intent: dict) -> dict:
    """The PaymentIntent as Stripe shows it while a bank debit clears."""
    return {**intent, "status": "processing", "last_payment_error": None}


def hours(app, transaction_id) -> dict:
    """What the student has of this purchase now, after `ledger verify` found nothing wrong."""
    with app.app_context():
        assert verify_ledger() == []  # first, in a snapshot of its own
        purchase = db.session.get(Purchase, transaction_id)
        balance = db.session.get(Balance, purchase.student_id)
        lot = db.session.scalars(db.select(Lot).where(Lot.purchase_id == purchase.id)).first()
        kinds = db.session.scalars(db.select(LedgerEntry.kind).where(
            LedgerEntry.student_id == purchase.student_id).order_by(LedgerEntry.id)).all()
        return {"status": purchase.status, "available": balance.available_minutes,
                "pending": balance.pending_minutes,
                "lot": None if lot is None else (lot.minutes_remaining, lot.minutes_pending),
                "entries": kinds}


@pytest.fixture
def declined(client, seeded, stripe_emulator):
    """A guest's purchase whose payment the bank refused: the emulator's declined
    PaymentIntent (requires_payment_method, with its last_payment_error)."""
    started = start_purchase(client, seeded["Basic Package"])
    intent = pay(stripe_emulator, started["payment_intent_id"], "pm_card_chargeCustomerFail")
    assert intent["status"] == "requires_payment_method" and intent["last_payment_error"]
    return started["transaction_id"], intent


def test_processing_records_pending_hours_that_are_not_available(app, client, paid):
    transaction_id, intent = paid
    response = deliver(client, "payment_intent.processing", processing(intent))
    assert response.status_code == 200
    assert hours(app, transaction_id) == {
        "status": "processing", "available": 0, "pending": 300, "lot": (0, 300),
        "entries": [EntryKind.PENDING_CREDIT.value]}
    with app.app_context():
        lot = db.session.scalars(db.select(Lot)).one()
        assert lot.expires_at is None  # pending hours do not expire


def test_pending_hours_cannot_be_booked_by_staff(app, client, paid, staff):
    transaction_id, intent = paid
    deliver(client, "payment_intent.processing", processing(intent))
    response = staff.post("/api/finances/api/admin/consume/", json={
        "email": "ana@example.com", "minutes": 60, "session_ref": "lesson-1"},
        headers={"X-CSRFToken": csrf_token(staff)})
    assert response.status_code == 409
    assert response.get_json()["error_type"] == "insufficient_balance"
    assert hours(app, transaction_id)["pending"] == 300


def test_succeeded_after_processing_makes_the_hours_available_once(app, client, paid, mailbox):
    transaction_id, intent = paid
    now = int(time.time())
    deliver(client, "payment_intent.processing", processing(intent), created=now - 4 * DAY)
    # The bank payment cleared three days later: that is when the hours' validity starts.
    deliver(client, "payment_intent.succeeded", intent, created=now - DAY)
    assert hours(app, transaction_id) == {
        "status": "completed", "available": 300, "pending": 0, "lot": (300, 0),
        "entries": [EntryKind.PENDING_CREDIT.value, EntryKind.PENDING_CLEARED.value,
                    EntryKind.PURCHASE_CREDIT.value]}
    with app.app_context():
        purchase = db.session.get(Purchase, transaction_id)
        lot = db.session.scalars(db.select(Lot)).one()
        paid_at = datetime.fromtimestamp(now - DAY, UTC)
        assert purchase.paid_at == paid_at
        assert lot.expires_at == purchase.expires_at == paid_at + timedelta(days=30)
    [mail] = mailbox.to("ana@example.com")
    assert "5 hours" in mail["Subject"]


def test_failed_after_processing_removes_the_pending_hours_and_tells_the_student(
        app, client, declined, mailbox):
    transaction_id, intent = declined
    deliver(client, "payment_intent.processing", processing(intent))
    assert hours(app, transaction_id)["pending"] == 300
    response = deliver(client, "payment_intent.payment_failed", intent)
    assert response.status_code == 200
    assert hours(app, transaction_id) == {
        "status": "failed", "available": 0, "pending": 0, "lot": (0, 0),
        "entries": [EntryKind.PENDING_CREDIT.value, EntryKind.PENDING_REMOVED.value]}
    [mail] = mailbox.to("ana@example.com")
    assert "did not go through" in mail["Subject"]
    body = mail.get_content()
    assert "5 hours" in body and "Basic Package" in body and "€75.00" in body


def test_a_failure_without_pending_hours_sends_no_email(app, client, declined, mailbox):
    transaction_id, intent = declined
    deliver(client, "payment_intent.payment_failed", intent)  # a card declined at once
    assert hours(app, transaction_id)["status"] == "failed"
    assert mailbox.to("ana@example.com") == []


def test_a_bank_payment_tried_again_after_failing_can_still_clear(app, client, declined):
    transaction_id, intent = declined
    deliver(client, "payment_intent.processing", processing(intent))
    deliver(client, "payment_intent.payment_failed", intent)
    deliver(client, "payment_intent.processing", processing(intent))
    assert hours(app, transaction_id)["pending"] == 300
    deliver(client, "payment_intent.succeeded", {**intent, "status": "succeeded",
                                                 "last_payment_error": None})
    state = hours(app, transaction_id)
    assert (state["status"], state["available"], state["pending"]) == ("completed", 300, 0)
    assert state["entries"].count(EntryKind.PURCHASE_CREDIT.value) == 1


@pytest.mark.parametrize("late", ["payment_intent.processing", "payment_intent.payment_failed"])
def test_late_processing_or_failure_after_success_changes_nothing(app, client, declined, late):
    transaction_id, declined_intent = declined
    succeeded = {**declined_intent, "status": "succeeded", "last_payment_error": None}
    now = int(time.time())
    deliver(client, "payment_intent.processing", processing(declined_intent), created=now - 300)
    deliver(client, "payment_intent.succeeded", succeeded, created=now - 100)
    before = hours(app, transaction_id)
    late_object = processing(declined_intent) if late.endswith("processing") else declined_intent
    assert deliver(client, late, late_object, created=now - 200).status_code == 200
    assert hours(app, transaction_id) == before
    assert before["status"] == "completed" and before["available"] == 300


def test_success_before_processing_credits_and_the_late_processing_changes_nothing(
        app, client, paid):
    transaction_id, intent = paid
    deliver(client, "payment_intent.succeeded", intent)
    deliver(client, "payment_intent.processing", processing(intent))
    assert hours(app, transaction_id) == {
        "status": "completed", "available": 300, "pending": 0, "lot": (300, 0),
        "entries": [EntryKind.PURCHASE_CREDIT.value]}


def test_duplicate_events_change_nothing(app, client, paid):
    transaction_id, intent = paid
    for n in range(3):  # the same event three times, and new events saying the same
        deliver(client, "payment_intent.processing", processing(intent), event_id="evt_proc")
        deliver(client, "payment_intent.processing", processing(intent), event_id=f"evt_p{n}")
    assert hours(app, transaction_id)["entries"] == [EntryKind.PENDING_CREDIT.value]
    for n in range(3):
        deliver(client, "payment_intent.succeeded", intent, event_id="evt_paid")
        deliver(client, "payment_intent.succeeded", intent, event_id=f"evt_s{n}")
    assert hours(app, transaction_id) == {
        "status": "completed", "available": 300, "pending": 0, "lot": (300, 0),
        "entries": [EntryKind.PENDING_CREDIT.value, EntryKind.PENDING_CLEARED.value,
                    EntryKind.PURCHASE_CREDIT.value]}


@pytest.fixture
def server(app):
    """The app over HTTP, without the emulator's own webhooks (the test sends every event)."""
    server = LiveServer(app)
    yield server
    server.stop()


def test_concurrent_deliveries_credit_pending_hours_once(app, client, paid, server):
    transaction_id, intent = paid
    deliver(client, "payment_intent.processing", processing(intent))
    deliveries = [signed_event("payment_intent.succeeded", intent, event_id=f"evt_{n}")
                  for n in range(8)]
    deliveries += [signed_event("payment_intent.processing", processing(intent),
                                event_id=f"evt_late_{n}") for n in range(2)]
    assert set(post_webhooks_at_once(server.url, deliveries)) == {200}
    state = hours(app, transaction_id)
    assert (state["status"], state["available"], state["pending"]) == ("completed", 300, 0)
    assert state["entries"].count(EntryKind.PURCHASE_CREDIT.value) == 1
    assert state["entries"].count(EntryKind.PENDING_CLEARED.value) == 1


def test_concurrent_processing_deliveries_pend_once(app, client, paid, server):
    transaction_id, intent = paid
    deliveries = [signed_event("payment_intent.processing", processing(intent),
                               event_id=f"evt_{n}") for n in range(8)]
    assert set(post_webhooks_at_once(server.url, deliveries)) == {200}
    assert hours(app, transaction_id) == {
        "status": "processing", "available": 0, "pending": 300, "lot": (0, 300),
        "entries": [EntryKind.PENDING_CREDIT.value]}
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(WebhookEvent)) == 8
