"""POST /api/finances/webhooks/stripe/: signatures, the event log, crediting exactly once,
and events that arrive late, twice or out of order."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from storefront.extensions import db
from storefront.ledger import verify_ledger
from storefront.models import LedgerEntry, Purchase, WebhookEvent
from tests.support import WEBHOOK_PATH, deliver, pay, signed_event, start_purchase


def state(app, transaction_id):
    """(purchase status, credited minutes, webhook rows) as the database has them now."""
    with app.app_context():
        assert verify_ledger() == []  # first, in a snapshot of its own
        purchase = db.session.get(Purchase, transaction_id)
        credited = db.session.scalar(
            db.select(db.func.coalesce(db.func.sum(LedgerEntry.minutes), 0))
            .where(LedgerEntry.student_id == purchase.student_id))
        events = db.session.scalar(db.select(db.func.count()).select_from(WebhookEvent))
        return purchase.status, credited, events


def test_succeeded_credits_the_hours_once(app, client, paid):
    transaction_id, intent = paid
    response = deliver(client, "payment_intent.succeeded", intent, event_id="evt_1")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "OK")
    assert state(app, transaction_id) == ("completed", 300, 1)
    with app.app_context():
        purchase = db.session.get(Purchase, transaction_id)
        assert purchase.paid_at is not None
        assert (purchase.expires_at - purchase.paid_at).days == 30
        event = db.session.scalars(db.select(WebhookEvent)).one()
        assert (event.stripe_event_id, event.outcome) == ("evt_1", "processed")
        assert event.processed_at is not None and "evt_1" in event.payload


def test_duplicate_event_changes_nothing(app, client, paid):
    transaction_id, intent = paid
    for _ in range(3):
        assert deliver(client, "payment_intent.succeeded", intent,
                       event_id="evt_dup").status_code == 200
    assert state(app, transaction_id) == ("completed", 300, 1)


def test_new_event_id_for_the_same_payment_does_not_credit_again(app, client, paid):
    transaction_id, intent = paid
    deliver(client, "payment_intent.succeeded", intent, event_id="evt_a")
    response = deliver(client, "payment_intent.succeeded", intent, event_id="evt_b")
    assert response.status_code == 200
    assert state(app, transaction_id) == ("completed", 300, 2)
    with app.app_context():
        second = db.session.scalars(
            db.select(WebhookEvent).where(WebhookEvent.stripe_event_id == "evt_b")).one()
        assert second.outcome == "ignored"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, None),  # no Stripe-Signature at all
        ({"Stripe-Signature": "t=1,v1=deadbeef"}, None),
        ({"Stripe-Signature": "garbage"}, None),
    ],
)
def test_missing_or_bad_signature_is_400_and_writes_nothing(app, client, paid, headers, body):
    _, intent = paid
    payload, _ = signed_event("payment_intent.succeeded", intent)
    response = client.post(WEBHOOK_PATH, data=payload,
                           headers={"Content-Type": "application/json", **headers})
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert state(app, paid[0]) == ("pending", 0, 0)


def test_signature_with_another_secret_is_400(app, client, paid):
    _, intent = paid
    response = deliver(client, "payment_intent.succeeded", intent, secret="whsec_attacker")
    assert response.status_code == 400
    assert state(app, paid[0]) == ("pending", 0, 0)


def test_stale_timestamp_is_400(app, client, paid):
    _, intent = paid
    response = deliver(client, "payment_intent.succeeded", intent,
                       timestamp=int(time.time()) - 3600)
    assert response.status_code == 400
    assert state(app, paid[0]) == ("pending", 0, 0)


def test_body_changed_after_signing_is_400(app, client, paid):
    _, intent = paid
    payload, headers = signed_event("payment_intent.succeeded", intent)
    response = client.post(WEBHOOK_PATH, data=payload.replace(b"7500", b"1"), headers=headers)
    assert response.status_code == 400
    assert state(app, paid[0]) == ("pending", 0, 0)


def test_signed_but_unparseable_body_is_400(app, client):
    import stripe

    from tests.support import WEBHOOK_SECRET

    payload = "{not json"
    header = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
    response = client.post(WEBHOOK_PATH, data=payload, headers={"Stripe-Signature": header})
    assert response.status_code == 400


def test_unhandled_event_type_is_200_and_recorded(app, client, paid):
    response = deliver(client, "customer.created", {"id": "cus_1", "object": "customer"},
                       event_id="evt_other")
    assert response.status_code == 200
    with app.app_context():
        event = db.session.scalars(db.select(WebhookEvent)).one()
        assert (event.type, event.outcome) == ("customer.created", "ignored")


def test_amount_mismatch_credits_nothing_and_stores_a_failed_event(app, client, paid, caplog):
    transaction_id, intent = paid
    response = deliver(client, "payment_intent.succeeded", {**intent, "amount": 100},
                       event_id="evt_short")
    assert response.status_code == 200
    assert state(app, transaction_id) == ("pending", 0, 1)
    with app.app_context():
        assert db.session.scalars(db.select(WebhookEvent)).one().outcome == "failed"
    assert any(r.levelname == "ERROR" and "not crediting" in r.getMessage()
               for r in caplog.records)
    # Currency too.
    deliver(client, "payment_intent.succeeded", {**intent, "currency": "usd"})
    assert state(app, transaction_id)[:2] == ("pending", 0)


def test_late_failure_after_success_never_undoes_it(app, client, seeded, stripe_emulator):
    started = start_purchase(client, seeded["Basic Package"])
    declined = pay(stripe_emulator, started["payment_intent_id"], "pm_card_chargeCustomerFail")
    assert declined["status"] == "requires_payment_method"
    assert declined["last_payment_error"]
    succeeded = pay(stripe_emulator, started["payment_intent_id"])
    assert succeeded["status"] == "succeeded"

    deliver(client, "payment_intent.succeeded", succeeded, created=200)
    late = deliver(client, "payment_intent.payment_failed", declined, created=100)
    assert late.status_code == 200
    assert state(app, started["transaction_id"]) == ("completed", 300, 2)
    deliver(client, "payment_intent.processing", {**succeeded, "status": "processing"})
    assert state(app, started["transaction_id"])[:2] == ("completed", 300)


def test_failure_then_retry_success_in_order(app, client, seeded, stripe_emulator):
    started = start_purchase(client, seeded["Basic Package"])
    declined = pay(stripe_emulator, started["payment_intent_id"], "pm_card_chargeCustomerFail")
    deliver(client, "payment_intent.payment_failed", declined)
    assert state(app, started["transaction_id"]) == ("failed", 0, 1)
    with app.app_context():
        assert db.session.get(Purchase, started["transaction_id"]).failure_message
    succeeded = pay(stripe_emulator, started["payment_intent_id"])
    deliver(client, "payment_intent.succeeded", succeeded)
    assert state(app, started["transaction_id"]) == ("completed", 300, 2)


def test_processing_then_succeeded(app, client, paid):
    transaction_id, intent = paid
    deliver(client, "payment_intent.processing", {**intent, "status": "processing"})
    assert state(app, transaction_id) == ("processing", 0, 1)
    deliver(client, "payment_intent.succeeded", intent)
    assert state(app, transaction_id) == ("completed", 300, 2)


def test_canceled_payment_cancels_the_purchase(app, client, seeded, stripe_emulator):
    started = start_purchase(client, seeded["Basic Package"])
    canceled = stripe_emulator.client().v1.payment_intents.cancel(
        started["payment_intent_id"]).to_dict()
    assert canceled["status"] == "canceled"
    assert deliver(client, "payment_intent.canceled", canceled).status_code == 200
    assert state(app, started["transaction_id"]) == ("cancelled", 0, 1)


def test_unknown_intent_with_our_metadata_asks_for_a_retry(app, client, paid):
    _, intent = paid
    ghost = {**intent, "id": "pi_not_committed_yet", "metadata": {"purchase_id": "999"}}
    response = deliver(client, "payment_intent.succeeded", ghost, event_id="evt_ghost")
    assert response.status_code == 503
    with app.app_context():  # nothing recorded, so Stripe's retry is processed in full
        assert db.session.scalar(db.select(db.func.count()).select_from(WebhookEvent)) == 0


def test_unknown_intent_without_our_metadata_is_ignored(app, client, paid):
    _, intent = paid
    foreign = {**intent, "id": "pi_someone_else", "metadata": {}}
    assert deliver(client, "payment_intent.succeeded", foreign).status_code == 200
    assert state(app, paid[0]) == ("pending", 0, 1)


def test_database_failure_is_5xx_so_stripe_retries(app, client, paid):
    transaction_id, intent = paid
    with app.app_context():
        db.session.execute(text("ALTER TABLE webhook_events RENAME TO webhook_events_gone"))
        db.session.commit()
    try:
        response = deliver(client, "payment_intent.succeeded", intent, event_id="evt_db")
        assert response.status_code >= 500
    finally:
        with app.app_context():
            db.session.execute(text("ALTER TABLE webhook_events_gone RENAME TO webhook_events"))
            db.session.commit()
    assert state(app, transaction_id) == ("pending", 0, 0)
    # Stripe's retry then succeeds.
    assert deliver(client, "payment_intent.succeeded", intent, event_id="evt_db").status_code == 200
    assert state(app, transaction_id) == ("completed", 300, 1)


def test_webhook_needs_no_csrf_even_with_limits_on(make_app, seeded_with, stripe_emulator):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_INITIATE_IP="1 per hour")
    client = app.test_client()
    started = start_purchase(client, seeded_with(app))
    intent = pay(stripe_emulator, started["payment_intent_id"])
    statuses = {deliver(client, "payment_intent.succeeded", intent).status_code
                for _ in range(15)}
    assert statuses == {200}


def test_a_late_event_dates_the_hours_from_the_payment(app, client, paid):
    import time

    transaction_id, intent = paid
    two_days_ago = int(time.time()) - 2 * 86400
    deliver(client, "payment_intent.succeeded", intent, created=two_days_ago)
    with app.app_context():
        purchase = db.session.get(Purchase, transaction_id)
        assert int(purchase.paid_at.timestamp()) == two_days_ago
        assert (purchase.expires_at - purchase.paid_at).days == 30


@pytest.mark.parametrize("validity_days", [3_000_000, 2_000_000_000])
def test_a_huge_validity_on_the_purchase_still_credits_the_paid_hours(app, client, paid,
                                                                       validity_days):
    """A purchase row from before validity was bounded: paid, so its hours are credited."""
    transaction_id, intent = paid
    with app.app_context():
        db.session.get(Purchase, transaction_id).validity_days = validity_days
        db.session.commit()
    response = deliver(client, "payment_intent.succeeded", intent, event_id="evt_huge")
    assert response.status_code == 200
    assert state(app, transaction_id) == ("completed", 300, 1)
    with app.app_context():
        purchase = db.session.get(Purchase, transaction_id)
        assert purchase.expires_at.year >= 2100
