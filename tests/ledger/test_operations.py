"""Consumption, cancellation, expiry and extensions on the ledger; invariants hold after each."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storefront import ledger
from storefront.extensions import db
from storefront.models import Balance, LedgerEntry, Lot
from storefront.models.base import utcnow
from storefront.purchases.refunds import extend_package, record_refunded_total


def lots(app, student):
    with app.app_context():
        return {lot.purchase_id: lot.minutes_remaining for lot in db.session.scalars(
            db.select(Lot).where(Lot.student_id == student))}


def available(app, student) -> int:
    with app.app_context():
        assert ledger.verify_ledger() == []
        return db.session.get(Balance, student).available_minutes


class Row:
    """A ledger entry's values, readable after its session has gone."""

    def __init__(self, entry):
        self.id, self.lot_id, self.minutes = entry.id, entry.lot_id, entry.minutes
        self.kind = getattr(entry, "kind", None)


def _snapshot(result):
    if isinstance(result, ledger.Consumption):
        return ledger.Consumption([Row(e) for e in result.entries], result.repeated)
    if isinstance(result, list):
        return [Row(e) if isinstance(e, LedgerEntry) else e for e in result]
    return result


def run(app, fn):
    """Call a ledger service in its own transaction, as a request would."""
    with app.app_context():
        try:
            result = fn()
            db.session.flush()
            snapshot = _snapshot(result)
            db.session.commit()
            return snapshot
        except Exception:
            db.session.rollback()
            raise


def test_consumption_draws_from_the_soonest_expiring_lot_and_spans_lots(app, buy, student_id):
    later = buy("Standard Package", expires_in=timedelta(days=40))  # 600 min
    sooner = buy("Basic Package", expires_in=timedelta(days=10))  # 300 min
    sam = student_id()
    result = run(app, lambda: ledger.consume_minutes(
        student_id=sam, minutes=360, session_ref="s1", now=utcnow()))
    assert [(e.minutes) for e in result.entries] == [-300, -60]
    assert lots(app, sam) == {sooner: 0, later: 540}
    assert available(app, sam) == 540


def test_insufficient_hours_draw_nothing(app, buy, student_id):
    purchase = buy("Basic Package")
    sam = student_id()
    with pytest.raises(ledger.InsufficientBalance) as refused:
        run(app, lambda: ledger.consume_minutes(student_id=sam, minutes=301,
                                                session_ref="big", now=utcnow()))
    assert refused.value.missing == 1
    assert lots(app, sam) == {purchase: 300} and available(app, sam) == 300


def test_expired_but_unprocessed_lots_are_not_usable(app, buy, student_id):
    buy("Basic Package", expires_in=timedelta(hours=-1))
    sam = student_id()
    with pytest.raises(ledger.InsufficientBalance) as refused:
        run(app, lambda: ledger.consume_minutes(student_id=sam, minutes=60,
                                                session_ref="late", now=utcnow()))
    assert refused.value.available == 0


def test_same_session_ref_twice_changes_nothing(app, buy, student_id):
    buy("Basic Package")
    sam = student_id()
    first = run(app, lambda: ledger.consume_minutes(student_id=sam, minutes=60,
                                                    session_ref="s1", now=utcnow()))
    again = run(app, lambda: ledger.consume_minutes(student_id=sam, minutes=60,
                                                    session_ref="s1", now=utcnow()))
    assert again.repeated and not first.repeated
    assert [e.id for e in again.entries] == [e.id for e in first.entries]
    assert available(app, sam) == 240
    with pytest.raises(ledger.SessionRefConflict):
        run(app, lambda: ledger.consume_minutes(student_id=sam, minutes=90,
                                                session_ref="s1", now=utcnow()))


def test_cancel_returns_minutes_to_their_lots_but_not_to_expired_ones(app, buy, student_id):
    sooner = buy("Basic Package", expires_in=timedelta(days=2))
    later = buy("Standard Package", expires_in=timedelta(days=30))
    sam = student_id()
    run(app, lambda: ledger.consume_minutes(student_id=sam, minutes=420, session_ref="s1",
                                            now=utcnow()))
    assert lots(app, sam) == {sooner: 0, later: 480}
    # By the time the session is cancelled, the first lot has expired.
    reversals = run(app, lambda: ledger.cancel_consumption(
        student_id=sam, session_ref="s1", now=utcnow() + timedelta(days=3)))
    # The expired lot's share stays used, and the ledger says so.
    assert [(r.lot_id, r.kind, r.minutes) for r in reversals] == [
        (sooner, "cancellation_unreturned", 0), (later, "consumption_reversal", 120)]
    assert lots(app, sam) == {sooner: 0, later: 600}
    again = run(app, lambda: ledger.cancel_consumption(student_id=sam, session_ref="s1",
                                                       now=utcnow()))
    assert [r.minutes for r in again] == [0, 120] and lots(app, sam)[later] == 600
    assert available(app, sam) == 600
    with pytest.raises(Exception, match="No session"):
        run(app, lambda: ledger.cancel_consumption(student_id=sam, session_ref="nope",
                                                   now=utcnow()))


def test_expire_lots_with_grace_and_twice(app, buy, student_id):
    old = buy("Basic Package", expires_in=timedelta(hours=-30))
    recent = buy("Standard Package", expires_in=timedelta(hours=-2))
    fresh = buy("Premium Package", expires_in=timedelta(days=5))
    sam = student_id()
    dry = run(app, lambda: ledger.expire_lots(now=utcnow(), grace=timedelta(hours=24),
                                              dry_run=True))
    assert [e.minutes for e in dry] == [300]
    assert lots(app, sam) == {old: 300, recent: 600, fresh: 1200}
    first = run(app, lambda: ledger.expire_lots(now=utcnow(), grace=timedelta(hours=24)))
    assert [(e.lot_id, e.minutes) for e in first] == [(first[0].lot_id, 300)]
    assert run(app, lambda: ledger.expire_lots(now=utcnow(), grace=timedelta(hours=24))) == []
    everything = run(app, lambda: ledger.expire_lots(now=utcnow()))
    assert [e.minutes for e in everything] == [600]
    assert lots(app, sam) == {old: 0, recent: 0, fresh: 1200}
    assert available(app, sam) == 1200


def test_extension_moves_expiry_and_is_a_ledger_entry(app, buy, student_id):
    purchase_id = buy("Basic Package", expires_in=timedelta(days=1))
    with app.app_context():
        from storefront.models import Purchase

        purchase = db.session.get(Purchase, purchase_id)
        before = purchase.expires_at
        entry = extend_package(purchase=purchase, days=14, reason="Illness", now=utcnow())
        db.session.commit()
        assert (entry.kind, entry.minutes) == ("expiry_extension", 0)
        assert "Illness" in entry.note
        lot = db.session.scalars(db.select(Lot).where(Lot.purchase_id == purchase_id)).one()
        assert lot.expires_at - before == timedelta(days=14)
        assert purchase.expires_at == lot.expires_at
        with pytest.raises(Exception, match="from 1 to 365"):
            ledger.extend_expiry(purchase=purchase, days=0, reason="x", now=utcnow())
        with pytest.raises(Exception, match="Say why"):
            ledger.extend_expiry(purchase=purchase, days=3, reason=" ", now=utcnow())
        db.session.rollback()
        # Once the hours have been expired, an extension cannot bring them back.
        lot.expires_at = utcnow() - timedelta(days=1)
        db.session.commit()
        ledger.expire_lots(now=utcnow())
        db.session.commit()
        with pytest.raises(ledger.LotUnavailable):
            ledger.extend_expiry(purchase=purchase, days=3, reason="late", now=utcnow())
        db.session.rollback()
        assert ledger.verify_ledger() == []
        kinds = db.session.scalars(db.select(LedgerEntry.kind).order_by(LedgerEntry.id)).all()
        assert kinds == ["purchase_credit", "expiry_extension", "expiry"]


def test_session_references_are_per_student(app, buy, student_id):
    buy("Basic Package", email="sam@example.com")
    buy("Basic Package", email="kim@example.com")
    sam, kim = student_id("sam@example.com"), student_id("kim@example.com")
    for student in (sam, kim):  # a group lesson: one reference, two students
        run(app, lambda s=student: ledger.consume_minutes(
            student_id=s, minutes=60, session_ref="group-1", now=utcnow()))
    run(app, lambda: ledger.cancel_consumption(student_id=kim, session_ref="group-1",
                                               now=utcnow()))
    assert available(app, sam) == 240 and available(app, kim) == 300


def test_a_cancelled_session_cannot_be_recorded_again(app, buy, student_id):
    buy("Basic Package")
    sam = student_id()
    run(app, lambda: ledger.consume_minutes(student_id=sam, minutes=60, session_ref="s1",
                                            now=utcnow()))
    run(app, lambda: ledger.cancel_consumption(student_id=sam, session_ref="s1", now=utcnow()))
    with pytest.raises(ledger.SessionRefConflict, match="cancelled"):
        run(app, lambda: ledger.consume_minutes(student_id=sam, minutes=60, session_ref="s1",
                                                now=utcnow()))
    assert available(app, sam) == 300


def test_cancelling_after_a_refund_does_not_give_back_refunded_hours(app, buy, student_id):
    from storefront.models import Purchase

    purchase_id = buy("Basic Package")  # 300 min, 75.00
    sam = student_id()
    run(app, lambda: ledger.consume_minutes(student_id=sam, minutes=120, session_ref="s1",
                                            now=utcnow()))
    with app.app_context():  # refunded in full while 120 minutes were used
        record_refunded_total(db.session.get(Purchase, purchase_id), 7500)
        db.session.commit()
    assert available(app, sam) == 0
    run(app, lambda: ledger.cancel_consumption(student_id=sam, session_ref="s1", now=utcnow()))
    assert available(app, sam) == 0
    assert lots(app, sam) == {purchase_id: 0}


def test_cancelling_after_a_half_refund_keeps_the_paid_half(app, buy, student_id):
    from storefront.models import Purchase

    purchase_id = buy("Standard Package")  # 600 min, 140.00
    sam = student_id()
    run(app, lambda: ledger.consume_minutes(student_id=sam, minutes=240, session_ref="s1",
                                            now=utcnow()))
    with app.app_context():
        record_refunded_total(db.session.get(Purchase, purchase_id), 7000)
        db.session.commit()
    assert available(app, sam) == 60  # 360 left, 300 taken back
    run(app, lambda: ledger.cancel_consumption(student_id=sam, session_ref="s1", now=utcnow()))
    assert available(app, sam) == 300  # what half the money paid for


def test_cancel_during_a_dispute_puts_the_minutes_on_hold_and_a_loss_voids_them(
    app, buy, student_id
):
    from storefront.models import Purchase

    purchase_id = buy("Basic Package")
    sam = student_id()
    run(app, lambda: ledger.consume_minutes(student_id=sam, minutes=60, session_ref="s1",
                                            now=utcnow()))
    run(app, lambda: ledger.consume_minutes(student_id=sam, minutes=30, session_ref="s2",
                                            now=utcnow()))
    with app.app_context():
        ledger.hold_for_dispute(db.session.get(Purchase, purchase_id), "dp_1")
        db.session.commit()
    run(app, lambda: ledger.cancel_consumption(student_id=sam, session_ref="s1", now=utcnow()))
    assert available(app, sam) == 0
    with app.app_context():
        lot = db.session.scalars(db.select(Lot)).one()
        assert lot.minutes_on_hold == 270
        purchase = db.session.get(Purchase, purchase_id)
        purchase.dispute_status = "lost"
        ledger.close_dispute(purchase, "dp_1", won=False)
        db.session.commit()
    run(app, lambda: ledger.cancel_consumption(student_id=sam, session_ref="s2", now=utcnow()))
    assert available(app, sam) == 0
    assert lots(app, sam) == {purchase_id: 0}
