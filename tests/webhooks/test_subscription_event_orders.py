"""Subscription and invoice events in any order, with duplicates: exactly one credit per
paid invoice, and the subscription ends in Stripe's latest state (Hypothesis)."""

from __future__ import annotations

import time
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storefront import ledger
from storefront.extensions import db
from storefront.models import LedgerEntry, Lot, Purchase, Subscription, User
from tests.support import deliver
from tests.webhooks.billing_objects import DAY, invoice_object, subscription_object


def _events(student_id: int, plan_id: int) -> list[tuple[str, dict, str, int]]:
    """Stripe's events for a subscription's first two months and a cancellation at the end
    of the second: (type, object, event id, created)."""
    tag, now = uuid.uuid4().hex[:10], int(time.time())
    sub, owner = f"sub_{tag}", {"student_id": student_id, "plan_id": plan_id}
    first, second = now - 40 * DAY, now - 10 * DAY
    events = [
        ("customer.subscription.created",
         subscription_object(sub, status="incomplete", start=first, **owner), first),
        ("customer.subscription.updated",
         subscription_object(sub, start=first, **owner), first + 5),
        ("customer.subscription.updated",
         subscription_object(sub, start=second, **owner), second),
        ("customer.subscription.updated",
         subscription_object(sub, start=second, cancel_at_period_end=True, **owner),
         second + DAY),
    ]
    for month, start in (("1", first), ("2", second)):
        invoice = invoice_object(f"in_{tag}_{month}", sub, period_start=start, **owner)
        events += [("invoice.paid", invoice, start + 4),
                   ("invoice.payment_succeeded", invoice, start + 4)]
    return [(kind, obj, f"evt_{tag}_{n}", created)
            for n, (kind, obj, created) in enumerate(events)]


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_order_credits_each_invoice_once_and_keeps_the_latest_state(app, client, seeded,
                                                                        data):
    with app.app_context():
        student = User(email=f"{uuid.uuid4().hex[:12]}@example.com", name="Prop Test")
        db.session.add(student)
        db.session.flush()
        ledger.open_balance(student)
        db.session.commit()
        student_id = student.id
    events = _events(student_id, seeded["Student Subscription"])
    order = data.draw(st.permutations(range(len(events))))
    for _ in range(data.draw(st.integers(0, 4))):  # redeliveries, anywhere
        order.insert(data.draw(st.integers(0, len(order))),
                     data.draw(st.integers(0, len(events) - 1)))
    for index in order:
        kind, obj, event_id, created = events[index]
        assert deliver(client, kind, obj, event_id=event_id, created=created).status_code == 200

    with app.app_context():
        assert ledger.verify_ledger() == []
        credited = db.session.execute(
            db.select(Purchase.stripe_invoice_id, LedgerEntry.minutes)
            .join(Lot, Lot.purchase_id == Purchase.id)
            .join(LedgerEntry, LedgerEntry.lot_id == Lot.id)
            .where(Purchase.student_id == student_id, LedgerEntry.kind == "purchase_credit")
            .order_by(Purchase.stripe_invoice_id)).all()
        assert [minutes for _, minutes in credited] == [900, 900]
        assert len({invoice for invoice, _ in credited}) == 2
        subscription = db.session.scalars(db.select(Subscription).where(
            Subscription.student_id == student_id)).one()
        latest = events[3][1]["items"]["data"][0]["current_period_end"]
        assert (subscription.status, subscription.cancel_at_period_end,
                int(subscription.current_period_end.timestamp())) == ("active", True, latest)
