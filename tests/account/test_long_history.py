"""A long-time student: the dashboard, the balance API and the staff page show the latest
rows and page through the rest, and the totals still equal the ledger's sums."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from storefront import ledger
from storefront.extensions import db
from storefront.models import EntryKind, LedgerEntry, PricingPlan, Purchase
from storefront.models.base import utcnow
from tests.conftest import log_in

BALANCE = "/api/finances/api/student-balance/"
PURCHASES = 25      # 22 expired lots, 3 active
SESSIONS = 15


def _paid_purchase(student_id: int, plan: PricingPlan, paid_at, n: int) -> Purchase:
    purchase = Purchase(
        student_id=student_id, plan_id=plan.id, plan_name=plan.name, plan_type=plan.plan_type,
        minutes=plan.minutes_included, price_minor=plan.price_minor, currency=plan.currency,
        validity_days=plan.validity_days, status="completed", attempt_key=f"long-{n}",
        payment_intent_id=f"pi_long_{n}", paid_at=paid_at, created_at=paid_at)
    db.session.add(purchase)
    db.session.flush()
    ledger.credit_purchase(purchase, paid_at)
    return purchase


@pytest.fixture
def long_timer(app, seeded, make_user):
    """Lee: 22 Basic Packages bought a month apart, then 3 in the last days (still valid);
    an hour's session after each of the last 15 purchases, a cancelled session, and the
    expiry run done."""
    student_id = make_user("lee@example.com", "Lee Longtime")
    now = utcnow()
    with app.app_context():
        plan = db.session.get(PricingPlan, seeded["Basic Package"])
        purchases = []
        for n in range(PURCHASES):
            paid_at = (now - timedelta(days=31 * (22 - n)) if n < 22
                       else now - timedelta(days=25 - n))
            purchases.append(_paid_purchase(student_id, plan, paid_at, n).id)
            if n >= PURCHASES - SESSIONS:
                ledger.consume_minutes(student_id=student_id, minutes=60,
                                       session_ref=f"lesson-{n:02d}",
                                       now=paid_at + timedelta(hours=1))
        ledger.consume_minutes(student_id=student_id, minutes=30, session_ref="lesson-x",
                               now=now)
        ledger.cancel_consumption(student_id=student_id, session_ref="lesson-x", now=now)
        ledger.expire_lots(now=now)
        db.session.commit()
    return {"id": student_id, "purchases": purchases}


def _ids(html: str, attribute: str) -> list[str]:
    return re.findall(rf'{attribute}="([^"]+)"', html)


def _path(url: str) -> str:
    return url.split("localhost", 1)[-1].replace("&amp;", "&")


def test_dashboard_shows_the_latest_rows_and_pages_through_every_purchase(client, long_timer):
    log_in(client, "lee@example.com")
    html = client.get("/account").get_data(as_text=True)
    newest_first = [str(i) for i in reversed(long_timer["purchases"])]
    assert _ids(html, "data-purchase-row") == newest_first[:10]
    assert 'href="/account/purchases"' in html
    sessions = _ids(html, "data-session-ref")
    assert sessions == ["lesson-x"] + [f"lesson-{n:02d}" for n in range(24, 15, -1)]
    assert len(_ids(html, "data-expired-lot")) == 10

    first = client.get("/account/purchases").get_data(as_text=True)
    assert _ids(first, "data-purchase-row") == newest_first[:20]
    [next_link] = re.findall(r'<a rel="next" href="([^"]+)"', first)
    assert not re.findall(r'rel="prev"', first)
    second = client.get(_path(next_link)).get_data(as_text=True)
    assert _ids(second, "data-purchase-row") == newest_first[20:]
    assert re.findall(r'rel="prev"', second) and not re.findall(r'rel="next"', second)


def test_balance_api_lists_every_expired_package_and_totals_match_the_ledger(
        app, client, long_timer):
    log_in(client, "lee@example.com")
    data = client.get(BALANCE).get_json()
    expired = [p["transaction_id"] for p in data["package_status"]["expired_packages"]]
    assert expired == long_timer["purchases"][:22]  # every one, soonest expiry first
    assert [p["transaction_id"] for p in data["package_status"]["active_packages"]] == \
        long_timer["purchases"][22:]
    with app.app_context():
        sums = dict(db.session.execute(
            select(LedgerEntry.kind, func.sum(LedgerEntry.minutes))
            .where(LedgerEntry.student_id == long_timer["id"]).group_by(LedgerEntry.kind)).all())
    assert data["balance_summary"] == {
        "hours_purchased": f"{sums[EntryKind.PURCHASE_CREDIT.value] / 60:.2f}",
        "hours_consumed": f"{-(sums[EntryKind.CONSUMPTION.value] + sums[EntryKind.CONSUMPTION_REVERSAL.value]) / 60:.2f}",  # noqa: E501
        "hours_expired": f"{-sums[EntryKind.EXPIRY.value] / 60:.2f}",
        "hours_refunded": "0.00",
        "remaining_hours": f"{sum(sums.values()) / 60:.2f}",
        "balance_amount": "210.00",  # 4 h + 5 h + 5 h left of three 5 h Basics at 75.00
        "balance_amounts": {"eur": "210.00"},
    }
    assert data["balance_summary"]["remaining_hours"] == "14.00"
    assert data["balance_summary"]["hours_consumed"] == "15.00"
    booking = client.get(BALANCE + "check-booking/?duration_hours=13.4").get_json()
    assert booking["can_book"] is True and booking["active_package_count"] == 3


def test_staff_student_page_pages_through_the_ledger(app, client, make_user, long_timer):
    make_user("staff@example.com", "Staff Member", staff=True)
    log_in(client, "staff@example.com")
    with app.app_context():
        entry_ids = list(db.session.scalars(
            select(LedgerEntry.id).where(LedgerEntry.student_id == long_timer["id"])
            .order_by(LedgerEntry.id.desc())))
    assert len(entry_ids) > 50
    page = client.get(f"/staff/students/{long_timer['id']}").get_data(as_text=True)
    assert _ids(page, "data-entry-id") == [str(i) for i in entry_ids[:50]]
    [older] = re.findall(r'<a rel="next" href="([^"]+)"', page)
    rest = client.get(_path(older)).get_data(as_text=True)
    assert _ids(rest, "data-entry-id") == [str(i) for i in entry_ids[50:]]
    assert not re.findall(r'rel="next"', rest)


def test_staff_student_page_shows_open_and_latest_packages_and_all_on_request(
        client, make_user, long_timer):
    make_user("staff@example.com", "Staff Member", staff=True)
    log_in(client, "staff@example.com")
    page = client.get(f"/staff/students/{long_timer['id']}").get_data(as_text=True)
    purchases = [str(i) for i in long_timer["purchases"]]
    # The 3 open ones, then the 10 latest others (all expired here), newest first.
    assert _ids(page, "data-purchase-id") == purchases[22:][::-1] + purchases[:22][::-1][:10]
    [everything] = re.findall(r'<a href="([^"]+)">All 25 packages</a>', page)
    every = client.get(_path(everything)).get_data(as_text=True)
    assert sorted(_ids(every, "data-purchase-id"), key=int) == purchases
