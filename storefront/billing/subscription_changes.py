"""A student changing their own subscription at Stripe: cancel at period end and undo it,
switch plan from the next period, and save a new card to pay what is owed.

Every change is a Stripe call with an idempotency key; our row then takes the Subscription
Stripe returned through the same function as the webhooks (purchases.subscriptions), dated by
Stripe's clock (its answer's Date), so neither an older event delivered late nor this answer
arriving after a newer event moves the row backwards. Services flush; the views commit.
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from storefront.account.subscription_overview import MANAGEABLE_STATUSES, PAYMENT_DUE_STATUSES
from storefront.billing.customers import customer_for
from storefront.catalog.prices import subscription_currency
from storefront.errors import StorefrontError
from storefront.extensions import db
from storefront.models import PlanPrice, PricingPlan, User
from storefront.models.catalog import PlanType
from storefront.models.subscription import Subscription
from storefront.payments import gateway
from storefront.payments.errors import PaymentError
from storefront.purchases import subscriptions

log = logging.getLogger(__name__)


class SubscriptionNotChangeable(StorefrontError):
    """The student has no subscription that this change applies to."""

    error_type = "invalid_state"
    status = 409


class CardNotSaved(StorefrontError):
    """The SetupIntent named on return is not this student's, or did not save a card."""

    error_type = "invalid_state"
    status = 409


def _request_key(subscription: Subscription, action: str) -> str:
    """An idempotency key of its own for each request: Stripe's retries of it reuse it."""
    return f"subscription-{subscription.id}-{action}-{uuid.uuid4().hex}"


def _live_subscription(student: User) -> Subscription:
    subscription = db.session.scalars(
        select(Subscription).where(Subscription.student_id == student.id,
                                   Subscription.status.in_(sorted(MANAGEABLE_STATUSES)))
        .order_by(Subscription.id.desc())).first()
    if subscription is None:
        raise SubscriptionNotChangeable("You have no running subscription to change.")
    return subscription


def _apply(snapshot: gateway.SubscriptionSnapshot) -> Subscription:
    """Our row takes the Subscription Stripe returned, unless a newer event came first."""
    outcome, subscription = subscriptions.sync_subscription(snapshot.subscription,
                                                            snapshot.stripe_time)
    if subscription is None:
        raise SubscriptionNotChangeable("Stripe answered about a subscription we do not know.")
    log.info("subscription %d: %s from Stripe's answer", subscription.id, outcome.value)
    return subscription


def cancel_at_period_end(student: User) -> Subscription:
    """Stop the student's subscription when its current period ends (flushes)."""
    subscription = _live_subscription(student)
    if subscription.cancel_at_period_end:
        return subscription
    return _apply(gateway.set_cancel_at_period_end(
        subscription.stripe_subscription_id, True,
        idempotency_key=_request_key(subscription, "cancel")))


def resume(student: User) -> Subscription:
    """Undo a cancellation at period end before the period ends (flushes)."""
    subscription = _live_subscription(student)
    if not subscription.cancel_at_period_end:
        return subscription
    return _apply(gateway.set_cancel_at_period_end(
        subscription.stripe_subscription_id, False,
        idempotency_key=_request_key(subscription, "resume")))


@dataclass(frozen=True)
class SwitchOption:
    """A plan the subscription can move to, priced in the subscription's currency."""

    id: int
    name: str
    minutes_included: int
    price_minor: int
    currency: str
    stripe_price_id: str


def switch_plans(subscription: Subscription) -> list[SwitchOption]:
    """The active subscription plans with a Stripe Price in the subscription's currency
    (Stripe bills a subscription in one currency) that it can move to."""
    currency = subscription_currency(subscription)
    rows = db.session.execute(
        select(PricingPlan, PlanPrice).join(PlanPrice, PlanPrice.plan_id == PricingPlan.id)
        .where(PricingPlan.plan_type == PlanType.SUBSCRIPTION.value,
               PricingPlan.is_active.is_(True), PricingPlan.id != subscription.plan_id,
               PlanPrice.currency == currency, PlanPrice.stripe_price_id.is_not(None))
        .order_by(PricingPlan.display_order, PricingPlan.id)).tuples()
    return [SwitchOption(plan.id, plan.name, plan.minutes_included, price.amount_minor,
                         price.currency, price.stripe_price_id) for plan, price in rows]


def switch_plan(student: User, plan_id: int) -> Subscription:
    """Bill another subscription plan from the next period, without proration; this
    period's hours stay as they are (flushes)."""
    subscription = _live_subscription(student)
    if subscription.cancel_at_period_end or subscription.status in PAYMENT_DUE_STATUSES:
        raise SubscriptionNotChangeable(
            "Keep your subscription and settle any payment due before switching plan.")
    plan = next((p for p in switch_plans(subscription) if p.id == plan_id), None)
    if plan is None:
        raise SubscriptionNotChangeable("That plan is not available to switch to.")
    current = gateway.retrieve_subscription(subscription.stripe_subscription_id)
    if not current.subscription.item_id:
        raise SubscriptionNotChangeable("Stripe shows no plan on this subscription.")
    switched = _apply(gateway.change_subscription_price(
        subscription.stripe_subscription_id, current.subscription.item_id,
        plan.stripe_price_id, idempotency_key=_request_key(subscription, f"plan-{plan.id}")))
    log.info("subscription %d: student %d switched to plan %d from the next period",
             switched.id, student.id, plan.id)
    return switched


def start_card_update(student: User) -> gateway.SetupIntentInfo:
    """A SetupIntent for the Payment Element to save a new card of the student (flushes)."""
    subscription = _live_subscription(student)
    customer = customer_for(student)
    return gateway.create_setup_intent(
        customer, metadata={"subscription_id": str(subscription.id),
                            "student_id": str(student.id)},
        idempotency_key=_request_key(subscription, "card"))


class CardUpdate(enum.StrEnum):
    SAVED = "saved"  # the card pays from now on; nothing was owed
    PAID = "paid"  # saved, and the open invoice is paid with it
    PAYMENT_FAILED = "payment_failed"  # saved, but paying the open invoice was declined
    PENDING = "pending"  # Stripe is still checking the card


@dataclass(frozen=True)
class CardUpdateResult:
    outcome: CardUpdate
    subscription: Subscription
    message: str | None = None  # Stripe's words for a decline


def _setup_intent_of(student: User, subscription: Subscription,
                     setup_intent_id: str) -> gateway.SetupIntentInfo:
    """The SetupIntent as Stripe has it, never as the return address says; it must be the
    one made for this student's subscription."""
    try:
        intent = gateway.retrieve_setup_intent(setup_intent_id)
    except PaymentError as error:
        if error.error_type == "invalid_request_error":
            raise CardNotSaved("That card update is unknown.") from error
        raise
    if (intent.customer_id != student.stripe_customer_id
            or intent.metadata.get("subscription_id") != str(subscription.id)):
        raise CardNotSaved("That card update is unknown.")
    return intent


def finish_card_update(student: User, setup_intent_id: str) -> CardUpdateResult:
    """On return from the Payment Element: make the saved card the subscription's default
    and ask Stripe to pay the open invoice with it (flushes). The paid invoice is credited
    by the same function as invoice.paid, once."""
    subscription = _live_subscription(student)
    intent = _setup_intent_of(student, subscription, setup_intent_id)
    if intent.status in ("processing", "requires_action", "requires_confirmation"):
        return CardUpdateResult(CardUpdate.PENDING, subscription)
    if intent.status != "succeeded" or not intent.payment_method_id:
        raise CardNotSaved("The card was not saved. Please try again.")
    payment_due = subscription.status in PAYMENT_DUE_STATUSES
    snapshot = gateway.set_subscription_payment_method(
        subscription.stripe_subscription_id, intent.payment_method_id,
        idempotency_key=f"subscription-{subscription.id}-card-{intent.id}")
    subscription = _apply(snapshot)
    invoice_id = snapshot.subscription.latest_invoice_id
    if not payment_due or not invoice_id:
        return CardUpdateResult(CardUpdate.SAVED, subscription)
    try:
        invoice, stripe_time = gateway.pay_invoice(
            invoice_id, idempotency_key=f"invoice-{invoice_id}-pay-{intent.id}")
    except PaymentError as error:
        if error.error_type != "card_error":
            raise
        return CardUpdateResult(CardUpdate.PAYMENT_FAILED, subscription, error.message)
    subscriptions.credit_invoice(invoice, stripe_time)
    subscription = _apply(gateway.retrieve_subscription(subscription.stripe_subscription_id))
    return CardUpdateResult(CardUpdate.PAID, subscription)
