"""What staff look up: students by email or name, lots past expiry."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, func, or_, select, text

from storefront.extensions import db
from storefront.models import LedgerEntry, Lot, Purchase, Subscription, User
from storefront.models.ledger import OPEN_LOT
from storefront.models.subscription import SUBSCRIPTION_STATUSES
from storefront.payments import gateway
from storefront.payments.billing import InvoiceInfo
from storefront.payments.errors import PaymentError

log = logging.getLogger(__name__)


def find_students(query: str, limit: int = 50) -> list[User]:
    """Accounts whose email or name contains the query (case-insensitive)."""
    text = query.strip().lower()
    if not text:
        return []
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(db.session.scalars(
        select(User).where(or_(User.email.like(pattern, escape="\\"),
                               func.lower(User.name).like(pattern, escape="\\")))
        .order_by(User.email).limit(limit)))


def lots_past_expiry(now: datetime, grace: timedelta) -> list[tuple[Lot, Purchase, User]]:
    """Lots with minutes left whose expiry (plus grace) has passed."""
    return list(db.session.execute(
        select(Lot, Purchase, User)
        .join(Purchase, Lot.purchase_id == Purchase.id)
        .join(User, Lot.student_id == User.id)
        .where(Lot.minutes_remaining > 0, Lot.expires_at.is_not(None),
               Lot.expires_at <= now - grace)
        .order_by(Lot.expires_at)).tuples())


def student_ledger(student: User, *, before: int | None = None,
                   limit: int = 50) -> tuple[list[LedgerEntry], int | None]:
    """A page of the student's entries, newest first, older than entry `before` when given;
    and the id to pass as `before` for the next page (None on the last one)."""
    query = select(LedgerEntry).where(LedgerEntry.student_id == student.id)
    if before is not None:
        query = query.where(LedgerEntry.id < before)
    entries = list(db.session.scalars(query.order_by(LedgerEntry.id.desc()).limit(limit + 1)))
    return entries[:limit], entries[limit - 1].id if len(entries) > limit else None


def student_lots(student: User, *, everything: bool = False,
                 latest: int = 10) -> tuple[list[tuple[Lot, Purchase]], int]:
    """The student's open lots (minutes left or held), then the `latest` others, each group
    newest first (every lot when `everything`); and how many lots they have in all."""
    query = (select(Lot, Purchase).join(Purchase, Lot.purchase_id == Purchase.id)
             .where(Lot.student_id == student.id).order_by(Lot.id.desc()))
    total = db.session.scalar(select(func.count()).where(Lot.student_id == student.id))
    if everything:
        return list(db.session.execute(query).tuples()), total
    opened = list(db.session.execute(query.where(text(OPEN_LOT))).tuples())
    others = list(db.session.execute(
        query.where(Lot.minutes_remaining == 0, Lot.minutes_on_hold == 0).limit(latest)).tuples())
    return opened + others, total


def subscriptions_of_status(status: str | None) -> tuple[Select, dict[str, int]]:
    """Subscriptions of one status (every one when None), newest first, as a query to page
    through; and how many there are of each status."""
    query = select(Subscription).order_by(Subscription.created_at.desc(),
                                          Subscription.id.desc())
    if status in SUBSCRIPTION_STATUSES:
        query = query.where(Subscription.status == status)
    counts = dict(db.session.execute(
        select(Subscription.status, func.count()).group_by(Subscription.status)).all())
    return query, {name: counts.get(name, 0) for name in SUBSCRIPTION_STATUSES}


@dataclass
class SubscriptionRecord:
    """A student's subscription as staff see it: our credited months, and the invoices
    Stripe reports that we have not credited (None when Stripe could not be asked)."""

    subscription: Subscription
    months: list[Purchase]
    uncredited: list[InvoiceInfo] | None = field(default_factory=list)


def student_subscriptions(student: User) -> list[SubscriptionRecord]:
    """The student's subscriptions, newest first, each with its months and open invoices."""
    records = []
    for subscription in db.session.scalars(
            select(Subscription).where(Subscription.student_id == student.id)
            .order_by(Subscription.id.desc())):
        months = list(db.session.scalars(select(Purchase).where(
            Purchase.subscription_id == subscription.id).order_by(Purchase.period_end.desc(),
                                                                 Purchase.id.desc())))
        credited = {month.stripe_invoice_id for month in months}
        try:
            uncredited = [invoice for invoice in
                          gateway.subscription_invoices(subscription.stripe_subscription_id)
                          if invoice.id not in credited and invoice.status != "draft"]
        except PaymentError:
            log.warning("invoices of subscription %d could not be read from Stripe",
                        subscription.id)
            uncredited = None
        records.append(SubscriptionRecord(subscription, months, uncredited))
    return records
