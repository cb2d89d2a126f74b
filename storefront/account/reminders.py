"""Reminding students that their hours expire soon (once per lot and warning window)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from storefront.extensions import db
from storefront.mail import queue_mail
from storefront.models import ExpiryNotice, Lot
from storefront.web import absolute_url


def notify_expiring(*, now: datetime, days: int) -> list[Lot]:
    """Email the owner of every lot with hours left that expires within `days`, unless this
    window's email for that lot was already sent. Returns the lots notified."""
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
        db.session.add(ExpiryNotice(lot_id=lot.id, window_days=days))
        queue_mail(lot.purchase.student.email, "hours_expiring", lot=lot,
                   student=lot.purchase.student, link=absolute_url("account.dashboard"))
    db.session.flush()
    return lots
