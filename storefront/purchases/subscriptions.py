"""Subscriptions as Stripe reports them, and each paid month credited once.

A subscription row moves only forwards by Stripe's own clock (the event's `created` and a
rank of its state), never by the order events arrive in. A paid invoice becomes a completed
purchase whose lot expires at the end of the billing period it paid (plus a grace); the
invoice id is unique on purchases, and the subscription row is locked first, so duplicate
or concurrent deliveries of invoice.paid and invoice.payment_succeeded credit once.
"""

from __future__ import annotations

import enum
import hashlib
import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from storefront import ledger
from storefront.account.services import purchase_credited
from storefront.errors import StorefrontError
from storefront.extensions import db
from storefront.mail import queue_mail
from storefront.models import Lot, PlanType, PricingPlan, Purchase, PurchaseStatus, User
from storefront.models.base import utcnow
from storefront.models.subscription import TERMINAL_STATUSES, Subscription, status_rank
from storefront.payments import gateway
from storefront.payments.billing import InvoiceInfo, SubscriptionInfo
from storefront.web import absolute_url

log = logging.getLogger(__name__)


class SyncOutcome(enum.StrEnum):
    CREDITED = "credited"  # a paid month's hours credited now
    UPDATED = "updated"  # the subscription's state moved
    UNCHANGED = "unchanged"  # already known (a duplicate, or the other event won)
    STALE = "stale"  # older, by Stripe's clock, than what we hold
    NOT_OURS = "not_ours"  # no subscription of ours and no metadata naming one


class InvoiceUnusable(StorefrontError):
    """A paid invoice we cannot turn into hours (no billing period)."""

    error_type = "invalid_state"
    status = 409


def _locked(stripe_subscription_id: str) -> Subscription | None:
    return db.session.scalars(
        select(Subscription).where(Subscription.stripe_subscription_id == stripe_subscription_id)
        .with_for_update().execution_options(populate_existing=True)).first()


def _owner(metadata: dict[str, str]) -> tuple[User, PricingPlan] | None:
    """Our student and subscription plan named in a subscription's metadata, if both exist."""
    student_id, plan_id = metadata.get("student_id", ""), metadata.get("plan_id", "")
    if not (student_id.isdigit() and plan_id.isdigit()):
        return None
    student, plan = db.session.get(User, int(student_id)), db.session.get(PricingPlan, int(plan_id))
    if student is None or plan is None or plan.type is not PlanType.SUBSCRIPTION:
        return None
    return student, plan


def subscription_for(stripe_subscription_id: str | None, metadata: dict[str, str], *,
                     status: str) -> Subscription | None:
    """Our subscription row, locked; created (in `status`, older than any event) from the
    metadata when we do not know it yet. None when it is not ours."""
    if not stripe_subscription_id:
        return None
    subscription = _locked(stripe_subscription_id)
    if subscription is not None:
        return subscription
    owner = _owner(metadata)
    if owner is None:
        return None
    try:
        with db.session.begin_nested():
            db.session.add(Subscription(
                stripe_subscription_id=stripe_subscription_id, student_id=owner[0].id,
                plan_id=owner[1].id, status=status, state_created=0, state_rank=0))
    except IntegrityError:
        pass  # created by a concurrent delivery meanwhile: use that one
    return _locked(stripe_subscription_id)


def _is_newer(subscription: Subscription, created: int, status: str) -> bool:
    if subscription.is_terminal and status not in TERMINAL_STATUSES:
        return False  # Stripe never reopens an ended subscription
    return (created, status_rank(status)) >= (subscription.state_created,
                                              subscription.state_rank)


def _set_status(subscription: Subscription, status: str, created: int) -> None:
    subscription.status = status
    subscription.state_created = created
    subscription.state_rank = status_rank(status)


def _plan_of_price(price_id: str | None, named_plan_id: str | None = None) -> PricingPlan | None:
    """Our subscription plan that a Price bills: the plan whose Price it is, or the plan
    `stripe sync-plans` named in the Price's metadata (a Price replaced since)."""
    if not price_id:
        return None
    plan = db.session.scalars(
        select(PricingPlan).where(PricingPlan.stripe_price_id == price_id)).first()
    if plan is None and (named_plan_id or "").isdigit():
        plan = db.session.get(PricingPlan, int(named_plan_id))
    return plan if plan is not None and plan.type is PlanType.SUBSCRIPTION else None


def _take_later_period(subscription: Subscription, start: datetime | None,
                       end: datetime | None) -> bool:
    """A billing period only moves forwards at Stripe, so a later one than ours is taken even
    from an older report (a paid invoice may have moved our state past it meanwhile)."""
    if end is None or (subscription.current_period_end is not None
                       and end <= subscription.current_period_end):
        return False
    subscription.current_period_start = start
    subscription.current_period_end = end
    db.session.flush()
    return True


def sync_subscription(info: SubscriptionInfo, created: int) -> tuple[SyncOutcome,
                                                                     Subscription | None]:
    """customer.subscription.* (or a Subscription a Stripe call returned, `created` being
    Stripe's time of the answer): take Stripe's state unless we hold a newer one. The plan
    follows the subscription's Price, so a switch from the next period is seen."""
    subscription = subscription_for(info.id, info.metadata, status=info.status)
    if subscription is None:
        return SyncOutcome.NOT_OURS, None
    if not _is_newer(subscription, created, info.status):
        log.info("subscription %d: ignoring %s of %d (holding %s of %d)", subscription.id,
                 info.status, created, subscription.status, subscription.state_created)
        return (SyncOutcome.UPDATED if _take_later_period(
            subscription, info.current_period_start, info.current_period_end)
                else SyncOutcome.STALE), subscription
    plan = _plan_of_price(info.price_id, info.price_plan_id)
    before = (subscription.status, subscription.current_period_start,
              subscription.current_period_end, subscription.cancel_at_period_end,
              subscription.canceled_at, subscription.ended_at, subscription.plan_id)
    after = (info.status, info.current_period_start, info.current_period_end,
             info.cancel_at_period_end, info.canceled_at, info.ended_at,
             plan.id if plan is not None else subscription.plan_id)
    _set_status(subscription, info.status, created)
    (subscription.current_period_start, subscription.current_period_end,
     subscription.cancel_at_period_end, subscription.canceled_at,
     subscription.ended_at) = after[1:-1]
    if plan is not None:
        subscription.plan = plan
    db.session.flush()
    return (SyncOutcome.UNCHANGED if before == after else SyncOutcome.UPDATED), subscription


def _invoice_purchase(invoice_id: str) -> Purchase | None:
    """The purchase of this invoice (paid, or the first month's pending one), locked."""
    return db.session.scalars(
        select(Purchase).where(Purchase.stripe_invoice_id == invoice_id)
        .with_for_update().execution_options(populate_existing=True)).first()


def _credit_month(purchase: Purchase, invoice: InvoiceInfo, paid_at: datetime,
                  period_end: datetime, *, rollover: bool) -> None:
    """Complete the purchase of a paid month and credit its hours until period end + grace;
    with `rollover`, last month's unused minutes move into this month's lot."""
    purchase.status = PurchaseStatus.COMPLETED.value
    purchase.failure_message = None
    purchase.paid_at = paid_at
    purchase.period_start = invoice.period_start
    purchase.period_end = period_end
    db.session.flush()
    grace = timedelta(hours=current_app.config.get("SUBSCRIPTION_GRACE_HOURS", 0))
    lot = ledger.credit_purchase(purchase, paid_at, expires_at=period_end + grace)
    purchase.expires_at = lot.expires_at
    if rollover:
        _carry_last_month(purchase, lot, paid_at)
    purchase_credited(purchase)


# A paid invoice makes these active again (Stripe does the same).
_REVIVED_BY_PAYMENT = frozenset({"incomplete", "past_due", "unpaid"})


def _activate(subscription: Subscription, created: int) -> bool:
    """A paid invoice newer, by Stripe's clock, than the state we hold makes an incomplete
    or past-due subscription active; an ended one stays ended."""
    if subscription.status not in _REVIVED_BY_PAYMENT or not _is_newer(subscription, created,
                                                                        "active"):
        return False
    _set_status(subscription, "active", created)
    db.session.flush()
    log.info("subscription %d: active again after a paid invoice", subscription.id)
    return True


def _carry_last_month(purchase: Purchase, lot: Lot, paid_at: datetime) -> None:
    """A plan with rollover: the unused minutes of the subscription's previous month move
    into this month's lot."""
    previous = db.session.scalars(
        select(Lot).join(Purchase, Lot.purchase_id == Purchase.id).where(
            Purchase.subscription_id == purchase.subscription_id, Purchase.id != purchase.id,
            Purchase.period_end < purchase.period_end)
        .order_by(Purchase.period_end.desc(), Purchase.id.desc()).limit(1)).first()
    if previous is not None:
        # Judged at the new period's start: Stripe charges a renewal as the last one ends.
        ledger.roll_over(previous, lot, invoice_id=purchase.stripe_invoice_id,
                         at=min(purchase.period_start or paid_at, paid_at))


def credit_invoice(invoice: InvoiceInfo, created: int) -> tuple[SyncOutcome, Purchase | None]:
    """invoice.paid / invoice.payment_succeeded: the month's hours as a lot, once per invoice,
    expiring at the end of the period paid plus SUBSCRIPTION_GRACE_HOURS; a free month (trial,
    coupon) too. The first month's pending purchase (started at checkout) is completed; a later
    month gets a purchase. The subscription becomes active if the invoice is newer than its
    state."""
    if invoice.status != "paid" or invoice.amount_paid < 0:
        return SyncOutcome.UNCHANGED, None
    subscription = subscription_for(invoice.subscription_id, invoice.subscription_metadata,
                                    status="active")
    if subscription is None:
        return SyncOutcome.NOT_OURS, None
    changed = _activate(subscription, created)
    if not subscription.is_terminal:
        # The month paid is the subscription's period, even before Stripe's own
        # customer.subscription.* event says so: the student sees when the next payment is.
        changed = _take_later_period(subscription, invoice.period_start,
                                     invoice.period_end) or changed
    started = _invoice_purchase(invoice.id)
    if started is not None and not started.can_move_to(PurchaseStatus.COMPLETED):
        if not started.is_paid:
            log.error("subscription %d: invoice %s paid but purchase %d is %s; not crediting",
                      subscription.id, invoice.id, started.id, started.status)
        return (SyncOutcome.UPDATED if changed else SyncOutcome.UNCHANGED), started
    period_end = invoice.period_end or subscription.current_period_end
    if period_end is None:
        raise InvoiceUnusable(f"Invoice {invoice.id} names no billing period.")
    payment_intent_id = invoice.payment_intent_id
    if payment_intent_id is None and started is not None:
        payment_intent_id = started.payment_intent_id
    if payment_intent_id is None and not invoice.payments_included and invoice.amount_paid:
        payment_intent_id = gateway.invoice_payment_intent(invoice.id)
    now = utcnow()
    paid_at = min(invoice.paid_at or datetime.fromtimestamp(created, now.tzinfo), now)
    # The plan the month was sold as (its Price); a switch since counts from the next month.
    plan = _plan_of_price(invoice.price_id) or subscription.plan
    purchase = started
    if purchase is None:
        purchase = Purchase(
            student_id=subscription.student_id, plan_id=plan.id, plan_name=plan.name,
            plan_type=plan.plan_type, minutes=plan.minutes_included,
            price_minor=invoice.amount_paid, currency=invoice.currency, validity_days=None,
            status=PurchaseStatus.PENDING.value,
            attempt_key=hashlib.sha256(f"invoice:{invoice.id}".encode()).hexdigest(),
            payment_intent_id=payment_intent_id, subscription_id=subscription.id,
            stripe_invoice_id=invoice.id)
        db.session.add(purchase)
    elif invoice.amount_paid != purchase.price_minor or invoice.currency != purchase.currency:
        # Stripe priced the month from our Price; what it took is what the month cost.
        log.warning("purchase %d: invoice %s paid %d %s, the plan said %d %s", purchase.id,
                    invoice.id, invoice.amount_paid, invoice.currency, purchase.price_minor,
                    purchase.currency)
        purchase.price_minor, purchase.currency = invoice.amount_paid, invoice.currency
    _credit_month(purchase, invoice, paid_at, period_end, rollover=plan.rollover_unused)
    log.info("subscription %d: invoice %s paid; purchase %d credited", subscription.id,
             invoice.id, purchase.id)
    return SyncOutcome.CREDITED, purchase


def settle_first_invoice(purchase: Purchase) -> tuple[SyncOutcome, Purchase]:
    """A subscription's checkout purchase whose PaymentIntent succeeded: ask Stripe for its
    invoice and credit it as the webhook would (never with a package's validity)."""
    invoice = gateway.retrieve_invoice(purchase.stripe_invoice_id)
    # Dated by Stripe's clock, as its events are: when it recorded the payment.
    paid = int(invoice.paid_at.timestamp()) if invoice.paid_at else invoice.created
    outcome, settled = credit_invoice(invoice, paid or int(utcnow().timestamp()))
    return outcome, settled or purchase


def _later_month_paid(subscription: Subscription, invoice: InvoiceInfo) -> bool:
    """Whether this invoice, or a month at least as late, has been paid already."""
    conditions = [Purchase.stripe_invoice_id == invoice.id]
    if invoice.period_end is not None:
        conditions.append(Purchase.period_end >= invoice.period_end)
    return db.session.scalar(select(Purchase.id).where(
        Purchase.subscription_id == subscription.id, or_(*conditions)).limit(1)) is not None


def invoice_payment_failed(invoice: InvoiceInfo, created: int) -> tuple[SyncOutcome,
                                                                       Subscription | None]:
    """invoice.payment_failed on the latest month: the subscription is past due and the
    student is asked by email to update their card."""
    subscription = subscription_for(invoice.subscription_id, invoice.subscription_metadata,
                                    status="incomplete")
    if subscription is None:
        return SyncOutcome.NOT_OURS, None
    if subscription.status == "incomplete" or _later_month_paid(subscription, invoice):
        # A first payment failing leaves the subscription incomplete; a later month paid
        # makes this failure old news.
        return SyncOutcome.STALE, subscription
    if not _is_newer(subscription, created, "past_due"):
        return SyncOutcome.STALE, subscription
    _set_status(subscription, "past_due", created)
    db.session.flush()
    queue_mail(subscription.student.email, "subscription_payment_failed",
               user=subscription.student, subscription=subscription,
               amount_minor=invoice.amount_due, currency=invoice.currency,
               link=absolute_url("account.dashboard"))
    log.info("subscription %d: invoice %s failed; past due", subscription.id, invoice.id)
    return SyncOutcome.UPDATED, subscription
