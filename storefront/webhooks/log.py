"""The webhook log for staff: the Stripe events received, and what reconcile last found."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select

from storefront.extensions import db
from storefront.models import ReconcileFinding, ReconcileRun, WebhookEvent, WebhookOutcome
from storefront.purchases.reconcile import ReconcileReport

OUTCOMES = tuple(outcome.value for outcome in WebhookOutcome)


def received_events(outcome: str | None = None, limit: int = 200) -> list[WebhookEvent]:
    """Received events, failed ones first, then newest first; only `outcome` if given."""
    query = select(WebhookEvent)
    if outcome is not None:
        query = query.where(WebhookEvent.outcome == outcome)
    failed_first = case((WebhookEvent.outcome == WebhookOutcome.FAILED.value, 0), else_=1)
    return list(db.session.scalars(
        query.order_by(failed_first, WebhookEvent.received_at.desc(), WebhookEvent.id.desc())
        .limit(limit)))


def outcome_counts() -> dict[str, int]:
    """How many received events have each outcome."""
    counts = dict(db.session.execute(
        select(WebhookEvent.outcome, func.count()).group_by(WebhookEvent.outcome)).all())
    return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES}


def record_reconcile_run(report: ReconcileReport, *, since: datetime) -> ReconcileRun:
    """Keep what a finished reconcile run found (its mismatches and failures); flushes."""
    run = ReconcileRun(since=since, checked=report.checked, findings=[
        ReconcileFinding(kind=found.kind, detail=found.detail, purchase_id=found.purchase_id,
                         payment_intent_id=found.payment_intent_id)
        for found in report.findings])
    db.session.add(run)
    db.session.flush()
    return run


def latest_reconcile_run() -> ReconcileRun | None:
    """The last finished reconcile run, if any."""
    return db.session.scalars(
        select(ReconcileRun).order_by(ReconcileRun.finished_at.desc(), ReconcileRun.id.desc())
        .limit(1)).first()
