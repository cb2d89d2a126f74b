"""Staff refunds of a subscription month: a month whose payment Stripe never named cannot
be refunded from here; the page says why and nothing changes."""

from __future__ import annotations

import time

from storefront.extensions import db
from storefront.ledger import verify_ledger
from storefront.models import Lot, Purchase
from tests.staff.test_staff_pages import page_text, post
from tests.support import deliver
from tests.webhooks.billing_objects import DAY, invoice_object


def test_refund_of_a_month_whose_payment_is_unknown_is_refused_clearly(
        app, client, staff, seeded, make_user, stripe_emulator):
    sam = make_user()
    # Stripe's event listed the invoice's payments, and none named a PaymentIntent.
    invoice = invoice_object("in_nopi", "sub_nopi", period_start=int(time.time()) - DAY,
                             student_id=sam, plan_id=seeded["Student Subscription"])
    assert deliver(client, "invoice.paid", invoice).status_code == 200
    with app.app_context():
        purchase = db.session.scalars(db.select(Purchase)).one()
        assert (purchase.payment_intent_id, purchase.price_minor) == (None, 11900)

    answer = post(staff, f"/staff/purchases/{purchase.id}/refund", amount="20",
                  request_key="k1")

    text = page_text(answer)
    assert "Stripe has not told us which payment paid this month" in text
    assert "in_nopi" in text
    with app.app_context():
        assert verify_ledger() == []
        again = db.session.get(Purchase, purchase.id)
        lot = db.session.scalars(db.select(Lot)).one()
        assert (again.status, again.refunded_minor, lot.minutes_remaining) == (
            "completed", 0, 900)
    assert stripe_emulator.client().v1.refunds.list().data == []
