"""An event refused for good (retrying would not change it) is kept, marked failed, for
staff, and nothing it started is left behind."""

from __future__ import annotations

import time

import pytest

from storefront.extensions import db
from storefront.ledger import verify_ledger
from storefront.models import LedgerEntry, Subscription, WebhookEvent
from tests.support import deliver
from tests.webhooks.billing_objects import invoice_object


@pytest.fixture
def owner(seeded, make_user):
    return {"student_id": make_user(), "plan_id": seeded["Monthly Unlimited"]}


def test_a_paid_invoice_without_a_billing_period_is_kept_as_failed_and_changes_nothing(
    app, client, owner
):
    invoice = invoice_object("in_noperiod", "sub_noperiod", period_start=int(time.time()),
                             **owner)
    del invoice["lines"]["data"][0]["period"]
    for _ in range(2):  # Stripe's redelivery finds it recorded
        response = deliver(client, "invoice.paid", invoice, event_id="evt_noperiod")
        assert response.status_code == 200
    with app.app_context():
        event = db.session.scalars(db.select(WebhookEvent)).one()
        assert (event.stripe_event_id, event.outcome) == ("evt_noperiod", "failed")
        assert event.detail.startswith("refused: ") and "in_noperiod" in event.detail
        assert event.processed_at is not None and "in_noperiod" in event.payload
        # The subscription row the event began to create went with the refusal.
        assert db.session.scalar(db.select(db.func.count()).select_from(Subscription)) == 0
        assert db.session.scalar(db.select(db.func.count()).select_from(LedgerEntry)) == 0
        assert verify_ledger() == []
