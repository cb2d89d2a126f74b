"""50 sessions of 60 minutes at once against a 10-hour balance: exactly 10 are recorded."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from storefront import ledger
from storefront.extensions import db
from storefront.models import Balance, LedgerEntry
from storefront.models.base import utcnow


def test_fifty_concurrent_consumptions_never_overdraw(app, buy, student_id):
    buy("Standard Package")  # 600 minutes
    sam = student_id()
    barrier = Barrier(50)

    def consume(n: int) -> bool:
        with app.app_context():
            barrier.wait()
            try:
                ledger.consume_minutes(student_id=sam, minutes=60, session_ref=f"rush-{n}",
                                       now=utcnow())
                db.session.commit()
                return True
            except ledger.InsufficientBalance:
                db.session.rollback()
                return False

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(consume, range(50)))
    assert results.count(True) == 10
    with app.app_context():
        assert db.session.get(Balance, sam).available_minutes == 0
        assert db.session.scalar(db.select(db.func.count()).select_from(LedgerEntry).where(
            LedgerEntry.kind == "consumption")) == 10
        assert ledger.verify_ledger() == []
