"""Card-testing defence: count declined payments per client IP, email and purchase, and
refuse new attempts from a source with too many recent declines (a cool-down).

Declines are recorded whoever reports them first (the payment_failed webhook, the complete
page, the test-mode confirm route); one decline is one row, keyed on the declined charge.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storefront.errors import StorefrontError
from storefront.extensions import db
from storefront.models import PaymentDecline, Purchase
from storefront.models.base import utcnow
from storefront.payments.gateway import PaymentIntentInfo
from storefront.purchases.lookup import purchase_for_intent

log = logging.getLogger(__name__)


class TooManyDeclines(StorefrontError):
    """A source had too many declined payments lately: no new attempt until `until`."""

    error_type = "too_many_declines"
    status = 429

    def __init__(self, until: datetime, now: datetime) -> None:
        self.retry_after = max(1, math.ceil((until - now).total_seconds()))
        minutes = max(1, math.ceil(self.retry_after / 60))
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(f"Too many declined payments; try again in {minutes} {unit}.")
        self.until = until


@dataclass(frozen=True)
class Block:
    """A source (IP, email or purchase) now refused, with its declines in the window."""

    kind: str
    value: str
    declines: int
    until: datetime


def _window() -> timedelta:
    return timedelta(minutes=current_app.config["PAYMENT_DECLINE_WINDOW_MINUTES"])


def _limit() -> int:
    return current_app.config["PAYMENT_DECLINE_LIMIT"]


def record_decline(intent: PaymentIntentInfo, *, reported_by: str) -> PaymentDecline | None:
    """Record the PaymentIntent's last decline once (a repeat report adds nothing); flushes."""
    if intent.status != "requires_payment_method" or not intent.error_message:
        return None
    purchase = purchase_for_intent(intent.id)
    if purchase is None:
        return None
    key = intent.declined_charge_id or f"{intent.id}:{intent.error_code or 'declined'}"
    if db.session.scalar(select(PaymentDecline.id).where(PaymentDecline.decline_key == key)):
        return None
    decline = PaymentDecline(
        decline_key=key, purchase_id=purchase.id, payment_intent_id=intent.id,
        email=purchase.student.email, client_ip=purchase.client_ip,
        decline_code=intent.decline_code or intent.error_code, reported_by=reported_by,
    )
    try:
        with db.session.begin_nested():
            db.session.add(decline)
    except IntegrityError:  # the other reporter recorded it at the same moment
        return None
    log.info("decline %s on purchase %d (%s, ip %s) reported by %s", key, purchase.id,
             decline.email, decline.client_ip, reported_by)
    return decline


def _sources(ip: str | None, email: str | None, purchase_id: int | None) -> list[tuple]:
    sources = [("ip", PaymentDecline.client_ip, ip), ("email", PaymentDecline.email, email),
               ("purchase", PaymentDecline.purchase_id, purchase_id)]
    return [(kind, column, value) for kind, column, value in sources if value]


def _blocked_until(column, value, now: datetime) -> datetime | None:
    """When the source's cool-down ends, if it has reached the limit within the window."""
    times = list(db.session.scalars(
        select(PaymentDecline.declined_at)
        .where(column == value, PaymentDecline.declined_at > now - _window())
        .order_by(PaymentDecline.declined_at.desc()).limit(_limit())))
    if len(times) < _limit():
        return None
    return times[-1] + _window()


def check_not_blocked(*, ip: str | None, email: str | None = None,
                      purchase_id: int | None = None) -> None:
    """Raise TooManyDeclines when the IP, email or purchase is cooling down."""
    now = utcnow()
    ends = [until for _, column, value in _sources(ip, email and email.strip().lower(),
                                                   purchase_id)
            if (until := _blocked_until(column, value, now)) is not None]
    if ends:
        log.warning("refused during decline cool-down: ip %s, email %s, purchase %s",
                    ip, email, purchase_id)
        raise TooManyDeclines(max(ends), now)


def check_purchase_not_blocked(purchase: Purchase, *, ip: str | None) -> None:
    """TooManyDeclines when this purchase, its email or the caller's IP is cooling down."""
    check_not_blocked(ip=ip, email=purchase.student.email, purchase_id=purchase.id)


def recent_declines(hours: int = 24, limit: int = 200) -> list[PaymentDecline]:
    """Declines of the last `hours`, newest first, for staff."""
    return list(db.session.scalars(
        select(PaymentDecline).where(PaymentDecline.declined_at > utcnow() - timedelta(hours=hours))
        .order_by(PaymentDecline.declined_at.desc(), PaymentDecline.id.desc()).limit(limit)))


def current_blocks() -> list[Block]:
    """Every IP, email and purchase now cooling down, latest end first."""
    now = utcnow()
    blocks = []
    for kind, column, _ in _sources("ip", "email", 1):
        counts = db.session.execute(
            select(column, func.count()).where(
                PaymentDecline.declined_at > now - _window(), column.is_not(None))
            .group_by(column).having(func.count() >= _limit())).all()
        for value, count in counts:
            until = _blocked_until(column, value, now)
            if until is not None:
                blocks.append(Block(kind, str(value), count, until))
    return sorted(blocks, key=lambda block: block.until, reverse=True)
