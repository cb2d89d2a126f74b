"""Subscribing through the checkout: a pending purchase for the first month and a Stripe
Subscription whose first invoice's PaymentIntent the Payment Element confirms.

The purchase is the same as a package's (transaction id, pay and complete pages, who may see
it, declines and cool-downs); its hours are credited when the first invoice is paid
(subscriptions.credit_invoice), until the end of the billing period. A student has at most one
live subscription: a second is refused, except that an unpaid one this browser started for
another plan is cancelled and replaced (the student changed their mind).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from storefront.billing.customers import customer_for
from storefront.catalog.prices import PlanPriceChoice, price_in
from storefront.errors import StorefrontError
from storefront.extensions import db
from storefront.models import PricingPlan, Purchase, PurchaseStatus, Subscription, User
from storefront.models.base import utcnow
from storefront.models.subscription import TERMINAL_STATUSES
from storefront.payments import gateway
from storefront.payments.errors import PaymentError
from storefront.purchases.fulfil import fulfil_purchase
from storefront.purchases.subscriptions import subscription_for, sync_subscription
from storefront.web import absolute_url

log = logging.getLogger(__name__)

# Stripe expires a subscription whose first invoice stays unpaid this long (incomplete_expired).
INCOMPLETE_LIFETIME = timedelta(hours=23)
_PAYABLE = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})


class PlanUnavailable(StorefrontError):
    """A subscription plan without a Stripe Price (not synced yet): it cannot be sold now."""

    error_type = "plan_unavailable"
    status = 503


class AlreadySubscribed(StorefrontError):
    """The student has a live subscription (or one waiting for its first payment elsewhere)."""

    error_type = "already_subscribed"
    status = 409


@dataclass(frozen=True)
class StartedSubscription:
    purchase: Purchase
    client_secret: str
    stripe_subscription_id: str


def check_subscribable(plan: PricingPlan, currency: str | None = None) -> None:
    """PlanUnavailable unless the subscription plan has its monthly Price at Stripe in
    `currency` (euros when None); ValidationError when it has no price in that currency."""
    if not price_in(plan, currency).stripe_price_id:
        raise PlanUnavailable(
            "This subscription is not available right now; please try again later.")


def stripe_subscription_id(purchase: Purchase) -> str | None:
    """The Stripe Subscription a checkout purchase started, if it is a subscription's."""
    if purchase.subscription_id is None:
        return None
    return db.session.get(Subscription, purchase.subscription_id).stripe_subscription_id


def _first_purchase(subscription: Subscription) -> Purchase | None:
    return db.session.scalars(
        select(Purchase).where(Purchase.subscription_id == subscription.id)
        .order_by(Purchase.id).limit(1)).first()


def _refusal(plan_name: str, *, waiting: bool = False) -> AlreadySubscribed:
    dashboard = absolute_url("account.dashboard")
    if waiting:
        return AlreadySubscribed(
            f"This account already has a subscription ({plan_name}) waiting for its first "
            f"payment in another browser. Finish it there, or see your dashboard: {dashboard}")
    return AlreadySubscribed(
        f"This account already has a subscription ({plan_name}); one at a time. "
        f"See it on your dashboard: {dashboard}")


def _clear_the_way(student: User, started_by: str) -> None:
    """Refuse while the student has a live subscription; an unpaid one started by this
    browser is cancelled (replaced by the new choice). Flushes."""
    others = db.session.scalars(
        select(Subscription).where(Subscription.student_id == student.id,
                                   Subscription.status.not_in(TERMINAL_STATUSES))
        .order_by(Subscription.id)).all()
    for other in others:
        if other.status != "incomplete":
            raise _refusal(other.plan.name)
        first = _first_purchase(other)
        if first is None or first.state is PurchaseStatus.CANCELLED \
                or first.created_at < utcnow() - INCOMPLETE_LIFETIME:
            continue  # not started here, or abandoned long enough for Stripe to expire it
        if first.is_paid:
            raise _refusal(other.plan.name)
        intent = gateway.retrieve_payment_intent(first.payment_intent_id)
        if intent.status not in _PAYABLE:
            fulfil_purchase(intent)  # paid or paying meanwhile: settle what we can
            if intent.status != "canceled":
                raise _refusal(other.plan.name)
            continue
        if first.started_by != started_by:
            raise _refusal(other.plan.name, waiting=True)
        cancel_subscription_purchase(first)


def cancel_subscription_purchase(purchase: Purchase) -> None:
    """Stop an unpaid subscription purchase at Stripe: cancel its Subscription and void its
    first invoice (which cancels the PaymentIntent; an invoice's PaymentIntent cannot be
    cancelled directly), then move the purchase to what Stripe says. Flushes."""
    intent = gateway.retrieve_payment_intent(purchase.payment_intent_id)
    if intent.status not in _PAYABLE:
        fulfil_purchase(intent)  # paid or paying meanwhile: never cancel what was paid
        return
    subscription = db.session.get(Subscription, purchase.subscription_id)
    key = f"cancel-{purchase.attempt_key}"
    info = gateway.cancel_subscription(subscription.stripe_subscription_id,
                                       idempotency_key=f"{key}-subscription")
    sync_subscription(info, int(utcnow().timestamp()))
    try:
        gateway.void_invoice(purchase.stripe_invoice_id, idempotency_key=f"{key}-invoice")
    except PaymentError as error:  # voided with the subscription already, or paid meanwhile
        log.info("purchase %d: invoice %s not voided (%s)", purchase.id,
                 purchase.stripe_invoice_id, error.error_type)
    fulfil_purchase(gateway.retrieve_payment_intent(purchase.payment_intent_id))


def start_subscription(*, plan: PricingPlan, price: PlanPriceChoice, student: User,
                       started_by: str, client_ip: str | None,
                       attempt_key: str) -> StartedSubscription:
    """Create the pending first-month purchase and its incomplete Stripe Subscription, on
    the plan's monthly Stripe Price in the chosen currency, for a student already locked by
    the caller. Flushes, never commits."""
    check_subscribable(plan, price.currency)
    _clear_the_way(student, started_by)
    customer_id = customer_for(student)
    purchase = Purchase(
        student_id=student.id, plan_id=plan.id, plan_name=plan.name, plan_type=plan.plan_type,
        minutes=plan.minutes_included, price_minor=price.amount_minor, currency=price.currency,
        validity_days=None, status=PurchaseStatus.PENDING.value, attempt_key=attempt_key,
        started_by=started_by, client_ip=client_ip,
    )
    db.session.add(purchase)
    db.session.flush()
    metadata = {"student_id": str(student.id), "plan_id": str(plan.id),
                "purchase_id": str(purchase.id)}
    started = gateway.create_subscription(
        customer_id=customer_id, price_id=price.stripe_price_id, metadata=metadata,
        idempotency_key=f"subscription-{attempt_key}")
    if not started.client_secret or not started.invoice.payment_intent_id:
        log.error("subscription %s came back without a payment to confirm", started.id)
        raise PaymentError("api_error")
    subscription = subscription_for(started.id, metadata, status="incomplete")
    purchase.subscription_id = subscription.id
    purchase.stripe_invoice_id = started.invoice.id
    purchase.payment_intent_id = started.invoice.payment_intent_id
    db.session.flush()
    log.info("started subscription %s: purchase %d (%s) for student %d", started.id,
             purchase.id, purchase.payment_intent_id, student.id)
    return StartedSubscription(purchase, started.client_secret, started.id)
