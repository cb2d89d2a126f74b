"""Random sequences of purchases, sessions, cancellations, refunds, disputes, expiries and
extensions: the ledger's invariants hold after every step (Hypothesis)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storefront import ledger
from storefront.errors import StorefrontError
from storefront.extensions import db
from storefront.models import Balance, Purchase, User
from storefront.models.base import utcnow
from storefront.purchases.refunds import extend_package, record_refunded_total

PLANS = [(300, 7500, 30), (600, 14000, 45), (1200, 26000, 60)]  # minutes, price, days

operations = st.lists(st.one_of(
    st.tuples(st.just("buy"), st.integers(0, len(PLANS) - 1)),
    st.tuples(st.just("consume"), st.integers(1, 700), st.integers(0, 2)),
    st.tuples(st.just("cancel"), st.integers(0, 2)),
    st.tuples(st.just("refund"), st.integers(0, 1), st.integers(1, 100)),
    st.tuples(st.just("dispute"), st.integers(0, 1), st.sampled_from(["open", "won", "lost"])),
    st.tuples(st.just("time"), st.integers(1, 70)),
    st.tuples(st.just("expire"),),
    st.tuples(st.just("extend"), st.integers(0, 1), st.integers(1, 30)),
), min_size=1, max_size=30)


def _buy(student: User, plan: int, now) -> Purchase:
    minutes, price, days = PLANS[plan]
    purchase = Purchase(
        student_id=student.id, plan_id=plan + 1, plan_name=f"Plan {plan}", plan_type="package",
        minutes=minutes, price_minor=price, currency="eur", validity_days=days,
        status="completed", attempt_key=uuid.uuid4().hex,
        payment_intent_id=f"pi_{uuid.uuid4().hex[:16]}", paid_at=now,
        expires_at=now + timedelta(days=days))
    db.session.add(purchase)
    db.session.flush()
    ledger.credit_purchase(purchase, now)
    return purchase


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
def test_invariants_hold_after_every_step(app, seeded, steps):
    with app.app_context():
        student = User(email=f"{uuid.uuid4().hex[:12]}@example.com", name="Prop Test")
        db.session.add(student)
        db.session.flush()
        ledger.open_balance(student)
        db.session.commit()
        now, purchases, refunded = utcnow(), [], {}
        for step in steps:
            try:
                kind = step[0]
                if kind == "buy":
                    purchases.append(_buy(student, step[1], now))
                elif kind == "consume":
                    ledger.consume_minutes(student_id=student.id, minutes=step[1],
                                           session_ref=f"s{step[2]}", now=now)
                elif kind == "cancel":
                    ledger.cancel_consumption(student_id=student.id,
                                              session_ref=f"s{step[1]}", now=now)
                elif kind == "refund" and step[1] < len(purchases):
                    purchase = purchases[step[1]]
                    more = purchase.price_minor * step[2] // 100
                    total = min(purchase.price_minor, refunded.get(purchase.id, 0) + more)
                    refunded[purchase.id] = total
                    record_refunded_total(purchase, total)
                elif kind == "dispute" and step[1] < len(purchases):
                    purchase, ref = purchases[step[1]], f"dp_{student.id}_{step[1]}"
                    if step[2] == "open":
                        ledger.hold_for_dispute(purchase, ref)
                    else:
                        ledger.close_dispute(purchase, ref, won=step[2] == "won")
                elif kind == "time":
                    now += timedelta(days=step[1])
                elif kind == "expire":
                    ledger.expire_lots(now=now)
                elif kind == "extend" and step[1] < len(purchases):
                    extend_package(purchase=purchases[step[1]], days=step[2],
                                   reason="property test", now=now)
                db.session.commit()
            except StorefrontError:
                db.session.rollback()
            assert ledger.verify_ledger() == [], step
            assert db.session.get(Balance, student.id).available_minutes >= 0
