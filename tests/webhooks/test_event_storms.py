"""Storms: a payment's whole story (processing, succeeded, a partial refund, a dispute opened,
updated and won) and a failed payment's (payment_failed, canceled), every event delivered one
to three times, shuffled, all at once. Stripe retries what was not answered 2xx. The ledger
ends exactly as when each event arrives once and in order (Hypothesis; on failure it prints
the order and the example to reproduce it)."""

from __future__ import annotations

import time
import uuid

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from storefront import ledger
from storefront.extensions import db
from storefront.models import LedgerEntry, Lot, Purchase
from tests.support import (
    LiveServer,
    deliver,
    pay,
    post_webhooks_at_once,
    signed_event,
    start_purchase,
)

Event = tuple[str, dict]


def _story(client, stripe_emulator, seeded: dict[str, int]) -> tuple[dict[str, int], list[Event]]:
    """Two purchases by a new student and Stripe's events about them, in the order they
    happened: {"paid": id, "failed": id}, [(type, object)]."""
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    paid = start_purchase(client, seeded["Basic Package"], email=email)
    intent = pay(stripe_emulator, paid["payment_intent_id"])
    stripe = stripe_emulator.client()
    refund = stripe.v1.refunds.create(params={"payment_intent": intent["id"], "amount": 1875})
    charge = stripe.v1.charges.retrieve(refund.charge).to_dict()
    dispute = {"id": f"dp_{uuid.uuid4().hex[:10]}", "object": "dispute", "amount": 5625,
               "charge": charge["id"], "payment_intent": intent["id"], "currency": "eur",
               "reason": "fraudulent", "status": "needs_response"}

    # The same student's second try at another plan: declined, then given up.
    failed = start_purchase(client, seeded["Standard Package"], email=email)
    declined = pay(stripe_emulator, failed["payment_intent_id"], "pm_card_chargeCustomerFail")
    canceled = stripe.v1.payment_intents.cancel(failed["payment_intent_id"]).to_dict()
    events = [
        ("payment_intent.processing", {**intent, "status": "processing"}),
        ("payment_intent.succeeded", intent),
        ("payment_intent.payment_failed", declined),
        ("charge.refunded", charge),
        ("payment_intent.canceled", canceled),
        ("charge.dispute.created", dispute),
        ("charge.dispute.updated", {**dispute, "status": "under_review"}),
        ("charge.dispute.closed", {**dispute, "status": "won"}),
    ]
    return {"paid": paid["transaction_id"], "failed": failed["transaction_id"]}, events


def _outcome(app, purchases: dict[str, int]) -> dict:
    """What a student and staff see of the two purchases: statuses, money, hours by kind."""
    with app.app_context():
        assert ledger.verify_ledger() == []
        seen = {}
        for name, purchase_id in purchases.items():
            purchase = db.session.get(Purchase, purchase_id)
            lot = db.session.scalars(db.select(Lot).where(Lot.purchase_id == purchase_id)).first()
            touching = (LedgerEntry.reference == purchase.payment_intent_id)
            if lot is not None:
                touching |= LedgerEntry.lot_id == lot.id
            by_kind = {kind: (count, minutes) for kind, minutes, count in db.session.execute(
                db.select(LedgerEntry.kind, db.func.sum(LedgerEntry.minutes), db.func.count())
                .where(touching).group_by(LedgerEntry.kind)).all()}
            # How much a dispute held depends on what was left when it opened (before or
            # after the refund); what must not depend on the order is everything below.
            seen[name] = {
                "status": purchase.status, "refunded": purchase.refunded_minor,
                "dispute": purchase.dispute_status,
                "lot": None if lot is None else (lot.minutes_granted, lot.minutes_remaining,
                                                 lot.minutes_on_hold),
                "credits": by_kind.get("purchase_credit"),
                "refund_reversed": by_kind.get("refund_reversal"),
                "dispute_records": [by_kind.get(kind, (0, 0))[0] for kind in
                                    ("dispute_opened", "dispute_won", "dispute_loss")],
                "net_minutes": sum(minutes for _, minutes in by_kind.values()),
            }
        db.session.remove()
        return seen


def _deliver_like_stripe(server: LiveServer, deliveries: list) -> None:
    """All at once; then Stripe retries each delivery that was not answered 2xx, until it is."""
    pending = deliveries
    for _ in range(20):
        statuses = post_webhooks_at_once(server.url, pending)
        assert set(statuses) <= {200, 503}, statuses
        pending = [d for d, status in zip(pending, statuses, strict=True) if status != 200]
        if not pending:
            return
    raise AssertionError(f"{len(pending)} deliveries still refused after 20 rounds")


@pytest.fixture
def app(make_app):
    """Every example declines one card from this test's address: no card-testing block."""
    return make_app(PAYMENT_DECLINE_LIMIT=10_000, PAYMENT_DECLINE_LIMIT_EMAIL=10_000)


@pytest.fixture
def storm_server(app):
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture
def in_order(app, client, seeded, stripe_emulator, storm_server):
    """The outcome of the story delivered once, in order."""
    purchases, events = _story(client, stripe_emulator, seeded)
    created = int(time.time())
    for n, (kind, obj) in enumerate(events):
        _deliver_like_stripe(storm_server, [signed_event(kind, obj, created=created + n)])
    return _outcome(app, purchases)


def test_in_order_story_ends_as_a_student_expects(in_order):
    assert in_order["paid"] == {
        "status": "partially_refunded", "refunded": 1875, "dispute": "won",
        "lot": (300, 225, 0), "credits": (1, 300), "refund_reversed": (1, -75),
        "dispute_records": [1, 1, 0], "net_minutes": 225}
    assert in_order["failed"]["status"] == "cancelled" and in_order["failed"]["lot"] is None


@settings(max_examples=12, deadline=None, print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_storm_of_shuffled_repeated_concurrent_events_ends_as_in_order(
        app, client, seeded, stripe_emulator, storm_server, in_order, data):
    purchases, events = _story(client, stripe_emulator, seeded)
    created = int(time.time())
    copies = data.draw(st.lists(st.integers(1, 3), min_size=len(events),
                                max_size=len(events)), label="deliveries of each event")
    deliveries = []
    for n, ((kind, obj), times) in enumerate(zip(events, copies, strict=True)):
        signed = signed_event(kind, obj, event_id=f"evt_{uuid.uuid4().hex}", created=created + n)
        deliveries += [(kind, signed)] * times
    order = data.draw(st.permutations(range(len(deliveries))), label="arrival order")
    note(f"arrival: {[deliveries[i][0] for i in order]}")
    _deliver_like_stripe(storm_server, [deliveries[i][1] for i in order])
    assert _outcome(app, purchases) == in_order


# The defects the storm found, one order each.

def _paid_story(client, stripe_emulator, seeded):
    purchases, events = _story(client, stripe_emulator, seeded)
    return purchases["paid"], dict(events)


def _paid_outcome(app, purchase_id):
    return _outcome(app, {"paid": purchase_id})["paid"]


def test_refund_heard_before_the_payment_is_not_lost(app, client, seeded, stripe_emulator):
    purchase, events = _paid_story(client, stripe_emulator, seeded)
    assert deliver(client, "charge.refunded", events["charge.refunded"]).status_code == 200
    assert deliver(client, "payment_intent.succeeded",
                   events["payment_intent.succeeded"]).status_code == 200
    outcome = _paid_outcome(app, purchase)
    assert (outcome["status"], outcome["refunded"], outcome["lot"], outcome["credits"]) == (
        "partially_refunded", 1875, (300, 225, 0), (1, 300))


def test_dispute_heard_before_the_payment_is_not_lost(app, client, seeded, stripe_emulator):
    purchase, events = _paid_story(client, stripe_emulator, seeded)
    deliver(client, "charge.dispute.created", events["charge.dispute.created"])
    deliver(client, "payment_intent.succeeded", events["payment_intent.succeeded"])
    outcome = _paid_outcome(app, purchase)
    assert (outcome["status"], outcome["dispute"], outcome["lot"]) == (
        "completed", "needs_response", (300, 0, 300))


def test_late_dispute_update_does_not_reopen_a_won_dispute(app, client, seeded,
                                                          stripe_emulator):
    purchase, events = _paid_story(client, stripe_emulator, seeded)
    deliver(client, "payment_intent.succeeded", events["payment_intent.succeeded"])
    deliver(client, "charge.dispute.created", events["charge.dispute.created"])
    deliver(client, "charge.dispute.closed", events["charge.dispute.closed"])
    deliver(client, "charge.dispute.updated", events["charge.dispute.updated"])
    outcome = _paid_outcome(app, purchase)
    assert (outcome["dispute"], outcome["lot"]) == ("won", (300, 300, 0))
