"""Reminding students that their hours expire soon (once per lot and warning window)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from storefront.extensions import db
from storefront.mail import queue_mail
from storefront.models import ExpiryNotice, Lot
from storefront.web import absolute_url

log = logging.getLogger(__name__)


def notify_expiring(*, now: datetime, days: int) -> list[Lot]:
    """Queue an email to the owner of every lot with hours left that expires within `days`,
    unless this window's reminder for that lot was already queued. The reminder is recorded
    in the same transaction as its outbox row, so it goes out exactly when it is recorded.
    Returns the lots reminded."""
    already = select(ExpiryNotice.lot_id).where(ExpiryNotice.window_days == days)
    lots = list(db.session.scalars(
        select(Lot).where(
            Lot.minutes_remaining > 0,
            Lot.expires_at > now,
            Lot.expires_at <= now + timedelta(days=days),
            Lot.id.not_in(already),
        ).order_by(Lot.expires_at)
    ))
    for lot in lots:
        student = lot.purchase.student
        queue_mail(student.email, "hours_expiring", lot=lot, student=student,
                   link=absolute_url("account.dashboard"))
        db.session.add(ExpiryNotice(lot_id=lot.id, window_days=days))
        log.info("expiry reminder for lot %d queued (%d-day window)", lot.id, days)
    db.session.flush()
    return lots
