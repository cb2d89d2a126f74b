"""charge.refunded and charge.dispute.* events, built from real emulator objects and signed."""

from __future__ import annotations

import pytest

from storefront import ledger
from storefront.extensions import db
from storefront.models import Lot, Purchase
from storefront.models.base import utcnow
from tests.support import deliver


def state(app, purchase_id):
    with app.app_context():
        purchase = db.session.get(Purchase, purchase_id)
        lot = db.session.scalars(db.select(Lot).where(Lot.purchase_id == purchase_id)).one()
        assert ledger.verify_ledger() == []
        return (purchase.status, purchase.refunded_minor, lot.minutes_remaining,
                lot.minutes_on_hold)


def refund_at_stripe(stripe_emulator, app, purchase_id, amount) -> dict:
    """Refund at the emulator (which sends no event) and return the real charge after it."""
    with app.app_context():
        intent_id = db.session.get(Purchase, purchase_id).payment_intent_id
    client = stripe_emulator.client()
    refund = client.v1.refunds.create(params={"payment_intent": intent_id, "amount": amount})
    return client.v1.charges.retrieve(refund.charge).to_dict()


def consume(app, email, minutes, ref):
    from storefront.models import User

    with app.app_context():
        student = db.session.scalars(db.select(User.id).where(User.email == email)).one()
        ledger.consume_minutes(student_id=student, minutes=minutes, session_ref=ref,
                               now=utcnow())
        db.session.commit()


def test_partial_refund_reverses_hours_in_proportion(app, client, buy, stripe_emulator):
    purchase = buy("Standard Package")  # 600 min for 140.00
    charge = refund_at_stripe(stripe_emulator, app, purchase, 3500)  # a quarter
    assert charge["amount_refunded"] == 3500
    assert deliver(client, "charge.refunded", charge, event_id="evt_r1").status_code == 200
    assert state(app, purchase) == ("partially_refunded", 3500, 450, 0)
    # The same event again, or a stale one, changes nothing.
    deliver(client, "charge.refunded", charge, event_id="evt_r1")
    deliver(client, "charge.refunded", {**charge, "amount_refunded": 1000})
    assert state(app, purchase) == ("partially_refunded", 3500, 450, 0)
    # The rest of the money: everything left is reversed.
    charge = refund_at_stripe(stripe_emulator, app, purchase, 10500)
    deliver(client, "charge.refunded", charge)
    assert state(app, purchase) == ("refunded", 14000, 0, 0)


def test_refund_never_reverses_more_than_remains(app, client, buy, stripe_emulator):
    purchase = buy("Basic Package")  # 300 min for 75.00
    consume(app, "sam@example.com", 240, "s1")
    charge = refund_at_stripe(stripe_emulator, app, purchase, 7500)
    deliver(client, "charge.refunded", charge)
    assert state(app, purchase) == ("refunded", 7500, 0, 0)


def test_refund_of_someone_elses_charge_is_ignored(app, client, buy, stripe_emulator):
    buy("Basic Package")
    response = deliver(client, "charge.refunded", {
        "id": "ch_other", "object": "charge", "amount": 500, "amount_refunded": 500,
        "currency": "eur", "payment_intent": "pi_not_ours"})
    assert response.status_code == 200


def _dispute(app, purchase_id, stripe_emulator, status, dispute_id="dp_test_1"):
    """A Stripe-shaped dispute around the real charge of the purchase."""
    with app.app_context():
        intent_id = db.session.get(Purchase, purchase_id).payment_intent_id
    intent = stripe_emulator.client().v1.payment_intents.retrieve(intent_id).to_dict()
    charge = intent["latest_charge"]
    charge_id = charge if isinstance(charge, str) else charge["id"]
    return {"id": dispute_id, "object": "dispute", "amount": intent["amount"],
            "charge": charge_id, "payment_intent": intent_id, "currency": "eur",
            "status": status, "reason": "fraudulent"}


@pytest.mark.parametrize(("outcome", "remaining"), [("won", 240), ("lost", 0)])
def test_dispute_holds_then_releases_or_voids(app, client, buy, stripe_emulator, outcome,
                                              remaining):
    purchase = buy("Basic Package")
    consume(app, "sam@example.com", 60, "s1")
    opened = _dispute(app, purchase, stripe_emulator, "needs_response")
    assert deliver(client, "charge.dispute.created", opened).status_code == 200
    assert state(app, purchase) == ("completed", 0, 0, 240)
    # Held hours cannot be used.
    from storefront.models import User

    with app.app_context():
        student = db.session.scalars(db.select(User.id)).one()
        with pytest.raises(ledger.InsufficientBalance):
            ledger.consume_minutes(student_id=student, minutes=60, session_ref="s2",
                                   now=utcnow())
        db.session.rollback()
    deliver(client, "charge.dispute.created", opened)  # duplicate: held once
    closed = {**opened, "status": outcome}
    deliver(client, "charge.dispute.closed", closed)
    deliver(client, "charge.dispute.closed", closed, event_id="evt_again")
    assert state(app, purchase) == ("completed", 0, remaining, 0)
    with app.app_context():
        assert db.session.get(Purchase, purchase).dispute_status == outcome


def test_dispute_found_through_the_charge_when_the_intent_is_missing(app, client, buy,
                                                                   stripe_emulator):
    purchase = buy("Basic Package")
    opened = _dispute(app, purchase, stripe_emulator, "needs_response")
    opened["payment_intent"] = None
    deliver(client, "charge.dispute.created", opened)
    assert state(app, purchase) == ("completed", 0, 0, 300)


def test_dispute_whose_charge_cannot_be_looked_up_asks_for_a_retry(make_app, seeded_with,
                                                                  stripe_stub):
    from storefront.models import WebhookEvent

    app = make_app(STRIPE_API_BASE=stripe_stub.base_url)
    seeded_with(app)
    stripe_stub.respond(500, {"error": {"type": "api_error", "message": "down"}})
    response = deliver(app.test_client(), "charge.dispute.created", {
        "id": "dp_x", "object": "dispute", "charge": "ch_x", "payment_intent": None,
        "status": "needs_response", "amount": 100})
    assert response.status_code == 503 and response.mimetype == "text/plain"
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(WebhookEvent)) == 0


def test_closed_inquiry_releases_the_hold(app, client, buy, stripe_emulator):
    purchase = buy("Basic Package")
    opened = _dispute(app, purchase, stripe_emulator, "warning_needs_response")
    deliver(client, "charge.dispute.created", opened)
    assert state(app, purchase)[2:] == (0, 300)
    deliver(client, "charge.dispute.closed", {**opened, "status": "warning_closed"})
    assert state(app, purchase)[2:] == (300, 0)


def test_partially_refunded_purchase_keeps_its_receipt_and_summary(app, client, buy,
                                                                  stripe_emulator):
    from storefront.account.passwords import hash_password
    from tests.conftest import PASSWORD, log_in

    purchase = buy("Standard Package")
    deliver(client, "charge.refunded", refund_at_stripe(stripe_emulator, app, purchase, 3500))
    with app.app_context():
        db.session.get(Purchase, purchase).student.password_hash = hash_password(PASSWORD)
        db.session.commit()
    log_in(client, "sam@example.com")
    receipt = client.get(f"/account/purchases/{purchase}")
    assert receipt.status_code == 200 and "€35.00" in receipt.get_data(as_text=True)
    summary = client.get("/api/finances/api/student-balance/summary/").get_json()
    assert summary["balance_summary"]["hours_refunded"] == "2.50"
    assert summary["balance_summary"]["remaining_hours"] == "7.50"
    listed = client.get("/api/finances/api/student-balance/purchases/?active_only=true")
    assert [r["payment_status"] for r in listed.get_json()["results"]] == ["partially_refunded"]


def cancel(app, email, ref):
    from storefront.models import Balance, User

    with app.app_context():
        student = db.session.scalars(db.select(User.id).where(User.email == email)).one()
        ledger.cancel_consumption(student_id=student, session_ref=ref, now=utcnow())
        db.session.commit()
        return db.session.get(Balance, student).available_minutes


def test_lost_dispute_over_used_hours_keeps_a_cancelled_session_used(app, client, buy,
                                                                     stripe_emulator):
    purchase = buy("Basic Package")  # 300 min
    consume(app, "sam@example.com", 300, "s1")
    opened = _dispute(app, purchase, stripe_emulator, "needs_response")
    deliver(client, "charge.dispute.created", opened)
    deliver(client, "charge.dispute.closed", {**opened, "status": "lost"})
    assert cancel(app, "sam@example.com", "s1") == 0  # the bank took the money back
    assert state(app, purchase) == ("completed", 0, 0, 0)


def test_session_cancelled_during_a_dispute_over_used_hours_is_held_until_it_is_won(
        app, client, buy, stripe_emulator):
    purchase = buy("Basic Package")
    consume(app, "sam@example.com", 300, "s1")
    opened = _dispute(app, purchase, stripe_emulator, "needs_response")
    deliver(client, "charge.dispute.created", opened)
    assert cancel(app, "sam@example.com", "s1") == 0
    assert state(app, purchase) == ("completed", 0, 0, 300)
    deliver(client, "charge.dispute.closed", {**opened, "status": "won"})
    assert state(app, purchase) == ("completed", 0, 300, 0)
