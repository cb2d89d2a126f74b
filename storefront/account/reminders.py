"""Reminding students that their hours expire soon (once per lot and warning window)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from storefront.extensions import db
from storefront.mail import MailNotSent, build_mail, send_now
from storefront.models import ExpiryNotice, Lot
from storefront.web import absolute_url

log = logging.getLogger(__name__)


def notify_expiring(*, now: datetime, days: int) -> tuple[list[Lot], list[Lot]]:
    """Email the owner of every lot with hours left that expires within `days`, unless this
    window's email for that lot was already sent. A reminder is recorded only once the mail
    server took it, so one that failed goes out on the next run.
    Returns (lots reminded, lots whose mail failed)."""
    already = select(ExpiryNotice.lot_id).where(ExpiryNotice.window_days == days)
    lots = list(db.session.scalars(
        select(Lot).where(
            Lot.minutes_remaining > 0,
            Lot.expires_at > now,
            Lot.expires_at <= now + timedelta(days=days),
            Lot.id.not_in(already),
        ).order_by(Lot.expires_at)
    ))
    sent, failed = [], []
    for lot in lots:
        student = lot.purchase.student
        try:
            send_now(build_mail(student.email, "hours_expiring", lot=lot, student=student,
                                link=absolute_url("account.dashboard")))
        except MailNotSent:
            log.warning("expiry reminder for lot %d not sent; will retry next run", lot.id)
            failed.append(lot)
            continue
        db.session.add(ExpiryNotice(lot_id=lot.id, window_days=days))
        sent.append(lot)
    db.session.flush()
    return sent, failed
