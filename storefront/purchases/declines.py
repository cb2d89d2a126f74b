"""Card-testing defence: count declined payments per purchase, client IP, email from that IP
and email from everywhere, refuse new attempts from a source with too many recent declines
(a cool-down), and cancel at Stripe the PaymentIntents such a source could still confirm.

Declines are recorded whoever reports them first (the payment_failed webhook, the complete
page, the test-mode confirm route); one decline is one row, keyed on the attempt.
An email alone (from every IP together) has a much higher limit than the other sources, so a
stranger declining cards in someone's name cannot block that person's own purchases.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, and_, func, literal, select, union_all
from sqlalchemy.exc import IntegrityError

from storefront.errors import StorefrontError
from storefront.extensions import db
from storefront.models import PaymentDecline, Purchase, PurchaseStatus, RefusedAttempt, User
from storefront.models.base import utcnow
from storefront.payments import gateway
from storefront.payments.errors import PaymentError
from storefront.payments.gateway import PaymentIntentInfo
from storefront.purchases.fulfil import fulfil_purchase
from storefront.purchases.lookup import purchase_for_intent
from storefront.purchases.subscribe import cancel_subscription_purchase

log = logging.getLogger(__name__)

# Purchases whose PaymentIntent can still be confirmed (a failed one can be retried).
_PAYABLE = (PurchaseStatus.PENDING.value, PurchaseStatus.FAILED.value)
# At most this many other purchases are cancelled for one blocked source at a time.
_CANCEL_AT_MOST = 50


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
    """A source (purchase, IP, email from one IP, or email) now refused, with its declines."""

    kind: str
    value: str
    declines: int
    until: datetime


@dataclass(frozen=True)
class _Source:
    kind: str
    where: ColumnElement[bool]
    limit: int


def _window() -> timedelta:
    return timedelta(minutes=current_app.config["PAYMENT_DECLINE_WINDOW_MINUTES"])


def _limit() -> int:
    return current_app.config["PAYMENT_DECLINE_LIMIT"]


def _email_limit() -> int:
    return current_app.config["PAYMENT_DECLINE_LIMIT_EMAIL"]


def _sources(*, ip: str | None, email: str | None, purchase_id: int | None) -> list[_Source]:
    """The sources a check or a decline concerns, each with its own limit."""
    sources = []
    if purchase_id:
        sources.append(_Source("purchase", PaymentDecline.purchase_id == purchase_id, _limit()))
    if ip:
        sources.append(_Source("ip", PaymentDecline.client_ip == ip, _limit()))
    if ip and email:
        sources.append(_Source("email_ip", and_(PaymentDecline.email == email,
                                                PaymentDecline.client_ip == ip), _limit()))
    if email:
        sources.append(_Source("email", PaymentDecline.email == email, _email_limit()))
    return sources


def _cooling_down(sources: list[_Source], now: datetime) -> dict[str, datetime]:
    """The sources at their limit within the window, each with when its cool-down ends: one
    query for them all (each source's latest declines, up to its limit)."""
    if not sources:
        return {}
    latest = [select(literal(source.kind).label("kind"), PaymentDecline.declined_at)
              .where(source.where, PaymentDecline.declined_at > now - _window())
              .order_by(PaymentDecline.declined_at.desc()).limit(source.limit).subquery()
              for source in sources]
    times: dict[str, list[datetime]] = {}
    for kind, declined_at in db.session.execute(
            union_all(*(select(part.c.kind, part.c.declined_at) for part in latest))):
        times.setdefault(kind, []).append(declined_at)
    return {source.kind: min(times[source.kind]) + _window() for source in sources
            if len(times.get(source.kind, ())) >= source.limit}


def _blocked_until(source: _Source, now: datetime) -> datetime | None:
    """When the source's cool-down ends, if it has reached its limit within the window."""
    times = list(db.session.scalars(
        select(PaymentDecline.declined_at)
        .where(source.where, PaymentDecline.declined_at > now - _window())
        .order_by(PaymentDecline.declined_at.desc()).limit(source.limit)))
    if len(times) < source.limit:
        return None
    return times[-1] + _window()


def _decline_key(intent: PaymentIntentInfo, event_id: str | None) -> str:
    """What tells this attempt from the PaymentIntent's other attempts, the same whoever
    reports it: the declined charge, else the payment method tried; when Stripe names
    neither (so the reporters cannot agree), the webhook's event, else the error code."""
    if intent.declined_charge_id:
        return intent.declined_charge_id
    if intent.declined_payment_method_id:
        created = intent.declined_payment_method_created or ""
        return f"{intent.id}:{intent.declined_payment_method_id}:{created}"
    return f"{intent.id}:{event_id or intent.error_code or 'declined'}"


def record_decline(intent: PaymentIntentInfo, *, reported_by: str,
                   event_id: str | None = None) -> PaymentDecline | None:
    """Record the PaymentIntent's last decline once (a repeat report adds nothing); when it
    takes a source over its limit, cancel what that source could still pay. Flushes."""
    if intent.status != "requires_payment_method" or not intent.error_message:
        return None
    purchase = purchase_for_intent(intent.id)
    if purchase is None:
        return None
    key = _decline_key(intent, event_id)
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
    _cancel_what_blocked_sources_could_pay(purchase, decline)
    return decline


def _payable_purchases(where: ColumnElement[bool], now: datetime) -> list[Purchase]:
    return list(db.session.scalars(
        select(Purchase).join(User, Purchase.student_id == User.id)
        .where(where, Purchase.status.in_(_PAYABLE), Purchase.payment_intent_id.is_not(None),
               Purchase.created_at > now - _window())
        .order_by(Purchase.id).limit(_CANCEL_AT_MOST)))


def _cancel_what_blocked_sources_could_pay(purchase: Purchase, decline: PaymentDecline) -> None:
    """Stripe.js confirms straight at Stripe, past our cool-down: so once a source is blocked,
    cancel the PaymentIntents of this purchase and of the source's other payable purchases."""
    now = utcnow()
    ip, email = decline.client_ip, decline.email
    over = set(_cooling_down(_sources(ip=ip, email=email, purchase_id=purchase.id), now))
    if not over:
        return
    targets = {purchase.id: purchase}
    others = {"ip": Purchase.client_ip == ip,
              "email_ip": and_(User.email == email, Purchase.client_ip == ip),
              "email": User.email == email}
    for kind in over & others.keys():
        targets.update((other.id, other) for other in _payable_purchases(others[kind], now))
    log.warning("decline limit reached (%s) on purchase %d: cancelling purchases %s",
                ", ".join(sorted(over)), purchase.id, sorted(targets))
    for target in targets.values():
        cancel_payment(target)


def cancel_payment(purchase: Purchase) -> None:
    """Cancel the purchase's PaymentIntent at Stripe and move the purchase to what Stripe
    then says (cancelled); a refusal (paid meanwhile, Stripe down) is logged and left to the
    webhook, and the next decline tries again. A subscription's first invoice's PaymentIntent
    cannot be cancelled at Stripe: its incomplete Subscription is cancelled instead. Flushes."""
    if purchase.state not in (PurchaseStatus.PENDING, PurchaseStatus.FAILED):
        return
    try:
        if purchase.subscription_id is not None:
            with db.session.begin_nested():
                cancel_subscription_purchase(purchase)
            return
        intent = gateway.cancel_payment_intent(
            purchase.payment_intent_id, idempotency_key=f"cancel-{purchase.attempt_key}")
    except PaymentError as error:
        log.warning("purchase %d: could not cancel %s (%s)", purchase.id,
                    purchase.payment_intent_id, error.error_type)
        return
    fulfil_purchase(intent)


def check_not_blocked(*, attempt: str, ip: str | None, email: str | None = None,
                      purchase_id: int | None = None) -> None:
    """Raise TooManyDeclines when the purchase, the IP, the email from that IP or the email
    (at its higher limit) is cooling down; the refused `attempt` is recorded (flushed) for
    staff. `email` is already normalised (email_identity)."""
    now = utcnow()
    ends = list(_cooling_down(_sources(ip=ip, email=email, purchase_id=purchase_id),
                              now).values())
    if ends:
        log.warning("refused %s during decline cool-down: ip %s, email %s, purchase %s",
                    attempt, ip, email, purchase_id)
        db.session.add(RefusedAttempt(attempt=attempt, client_ip=ip, email=email,
                                      purchase_id=purchase_id, refused_at=now))
        db.session.flush()
        raise TooManyDeclines(max(ends), now)


def check_purchase_not_blocked(purchase: Purchase, *, attempt: str, ip: str | None) -> None:
    """TooManyDeclines when this purchase, its email (from the caller's IP, or at all) or the
    caller's IP is cooling down."""
    check_not_blocked(attempt=attempt, ip=ip, email=purchase.student.email,
                      purchase_id=purchase.id)


def recent_declines(hours: int = 24, limit: int = 200) -> list[PaymentDecline]:
    """Declines of the last `hours`, newest first, for staff."""
    return list(db.session.scalars(
        select(PaymentDecline).where(PaymentDecline.declined_at > utcnow() - timedelta(hours=hours))
        .order_by(PaymentDecline.declined_at.desc(), PaymentDecline.id.desc()).limit(limit)))


def recent_refusals(hours: int = 24, limit: int = 200) -> list[RefusedAttempt]:
    """Attempts refused during a cool-down in the last `hours`, newest first, for staff."""
    return list(db.session.scalars(
        select(RefusedAttempt).where(RefusedAttempt.refused_at > utcnow() - timedelta(hours=hours))
        .order_by(RefusedAttempt.refused_at.desc(), RefusedAttempt.id.desc()).limit(limit)))


def current_blocks() -> list[Block]:
    """Every purchase, IP, email from one IP and email now cooling down, latest end first."""
    now = utcnow()
    groupings = [
        ("purchase", (PaymentDecline.purchase_id,), _limit()),
        ("ip", (PaymentDecline.client_ip,), _limit()),
        ("email_ip", (PaymentDecline.email, PaymentDecline.client_ip), _limit()),
        ("email", (PaymentDecline.email,), _email_limit()),
    ]
    blocks = []
    for kind, columns, limit in groupings:
        rows = db.session.execute(
            select(*columns, func.count())
            .where(PaymentDecline.declined_at > now - _window(),
                   *(column.is_not(None) for column in columns))
            .group_by(*columns).having(func.count() >= limit)).all()
        for *values, count in rows:
            where = and_(*(column == value for column, value in zip(columns, values, strict=True)))
            until = _blocked_until(_Source(kind, where, limit), now)
            if until is not None:
                blocks.append(Block(kind, " from ".join(map(str, values)), count, until))
    return sorted(blocks, key=lambda block: block.until, reverse=True)
