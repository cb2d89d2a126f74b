"""Rollover: a subscription plan that carries unused hours moves what is left of last
month's lot into the new month's lot (entries on both sides, once per invoice); without it
unused hours stay where they are and expire with their month."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from storefront import ledger
from storefront.extensions import db
from storefront.ledger import verify_ledger
from storefront.models import LedgerEntry, Lot, PricingPlan
from storefront.models.base import utcnow
from tests.staff.test_staff_pages import page_text, post
from tests.support import deliver
from tests.webhooks.billing_objects import DAY, invoice_object

PLAN = "Student Subscription"  # 900 minutes a month


@pytest.fixture
def owner(seeded, make_user):
    return {"student_id": make_user(), "plan_id": seeded[PLAN]}


def set_rollover(app, plan_id: int, on: bool) -> None:
    with app.app_context():
        db.session.get(PricingPlan, plan_id).rollover_unused = on
        db.session.commit()


def two_months_with_a_session(app, client, owner) -> int:
    """Month 1 paid, 300 of its 900 minutes used, then month 2 paid as month 1 ends; month
    2's period end."""
    start = int(time.time()) - 29 * DAY
    deliver(client, "invoice.paid", invoice_object("in_m1", "sub_r", period_start=start,
                                                   **owner))
    with app.app_context():
        ledger.consume_minutes(student_id=owner["student_id"], minutes=300,
                               session_ref="lesson-1", now=utcnow())
        db.session.commit()
    second = invoice_object("in_m2", "sub_r", period_start=start + 30 * DAY, **owner)
    assert deliver(client, "invoice.paid", second).status_code == 200
    assert deliver(client, "invoice.payment_succeeded", second).status_code == 200
    return start + 60 * DAY


def lots(app, student_id: int) -> list[tuple[int, int, datetime]]:
    with app.app_context():
        assert verify_ledger() == []
        return [(lot.minutes_granted, lot.minutes_remaining, lot.expires_at)
                for lot in db.session.scalars(db.select(Lot).where(
                    Lot.student_id == student_id).order_by(Lot.id))]


def test_rollover_moves_last_months_unused_minutes_into_the_new_month(app, client, owner):
    set_rollover(app, owner["plan_id"], True)
    end = datetime.fromtimestamp(two_months_with_a_session(app, client, owner), UTC)
    first_end = datetime.fromtimestamp(int(time.time()) + DAY, UTC)
    [(g1, r1, e1), (g2, r2, e2)] = lots(app, owner["student_id"])
    assert (g1, r1) == (900, 0) and abs((e1 - first_end).total_seconds()) < 5
    assert (g2, r2, e2) == (1500, 1500, end)
    with app.app_context():
        moved = db.session.execute(db.select(LedgerEntry.minutes, LedgerEntry.kind).where(
            LedgerEntry.idempotency_key.like("rollover%")).order_by(LedgerEntry.id)).all()
        assert [tuple(m) for m in moved] == [(-600, "rollover_out"), (600, "rollover_in")]
        assert ledger.lock_balance(owner["student_id"]).available_minutes == 1500


def test_a_month_paid_after_the_last_one_ended_still_carries_its_unused_minutes(
        app, client, owner):
    # Stripe charges the renewal when the period ends (its invoice is finalised about an
    # hour later): by then last month's lot, without grace, has reached its expiry.
    set_rollover(app, owner["plan_id"], True)
    start = int(time.time()) - 31 * DAY
    deliver(client, "invoice.paid", invoice_object("in_l1", "sub_l", period_start=start,
                                                   **owner))
    with app.app_context():
        ledger.consume_minutes(student_id=owner["student_id"], minutes=300,
                               session_ref="lesson-1",
                               now=datetime.fromtimestamp(start + DAY, UTC))
        db.session.commit()
    renewal = invoice_object("in_l2", "sub_l", period_start=start + 30 * DAY, **owner)
    assert deliver(client, "invoice.paid", renewal).status_code == 200
    assert [(g, r) for g, r, _ in lots(app, owner["student_id"])] == [(900, 0), (1500, 1500)]


def test_without_rollover_unused_minutes_stay_with_their_month(app, client, owner):
    two_months_with_a_session(app, client, owner)
    assert [(g, r) for g, r, _ in lots(app, owner["student_id"])] == [(900, 600), (900, 900)]


def test_staff_turn_rollover_on_for_subscription_plans_only(app, seeded, make_user):
    from tests.conftest import log_in

    make_user("staff@example.com", "Staff Member", staff=True)
    staff = app.test_client()
    log_in(staff, "staff@example.com")
    plan = seeded[PLAN]
    form = staff.get(f"/staff/plans/{plan}").get_data(as_text=True)
    assert 'name="rollover_unused"' in form
    fields = {"name": PLAN, "plan_type": "subscription", "hours_included": "15",
              "price": "119.00", "display_order": "2", "is_active": "y",
              "rollover_unused": "y"}
    post(staff, f"/staff/plans/{plan}", **fields)
    with app.app_context():
        assert db.session.get(PricingPlan, plan).rollover_unused is True
    package = seeded["Basic Package"]
    refused = post(staff, f"/staff/plans/{package}", name="Basic Package", plan_type="package",
                   hours_included="5", price="75.00", validity_days="90", display_order="1",
                   is_active="y", rollover_unused="y")
    assert "Only a subscription carries unused hours" in page_text(refused)
    with app.app_context():
        assert db.session.get(PricingPlan, package).rollover_unused is False
