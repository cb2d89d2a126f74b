"""Starting a purchase: a pending row and a Stripe PaymentIntent for the plan's price (for a
subscription plan, the PaymentIntent of its Stripe Subscription's first invoice)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from storefront.account.students import resolve_student
from storefront.catalog.prices import PlanPriceChoice, price_in
from storefront.errors import ValidationError
from storefront.extensions import db
from storefront.models import PricingPlan, Purchase, PurchaseStatus, User
from storefront.models.base import utcnow
from storefront.payments import gateway
from storefront.purchases.fulfil import fulfil_purchase
from storefront.purchases.subscribe import (
    check_subscribable,
    start_subscription,
    stripe_subscription_id,
)
from storefront.web import MAX_ID

log = logging.getLogger(__name__)

# PaymentIntent statuses in which the student can still pay on the same intent.
_PAYABLE = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})


@dataclass(frozen=True)
class InitiatedPurchase:
    purchase: Purchase
    client_secret: str
    reused: bool
    # The Stripe Subscription (sub_…) a subscription plan's purchase starts; None for packages.
    subscription_id: str | None = None


def purchasable_plan(plan_id: int, currency: str | None = None) -> PricingPlan:
    """The plan, if it exists, is active and can be bought here (a subscription plan needs
    its Stripe Price in `currency`, euros when None); else a ValidationError or
    PlanUnavailable."""
    plan = db.session.get(PricingPlan, plan_id) if 0 < plan_id <= MAX_ID else None
    if plan is None:
        raise ValidationError.for_fields({"plan_id": ["Pricing plan not found."]})
    if not plan.is_active:
        raise ValidationError.for_fields({"plan_id": ["This plan is not currently active."]})
    if not plan.is_package:
        check_subscribable(plan, currency)
    return plan


def _lock_student(student: User) -> None:
    # Starts for one student take turns (PostgreSQL; SQLite serialises every writer at BEGIN),
    # so a double-click's second request waits and then finds the first one's purchase.
    db.session.execute(select(User.id).where(User.id == student.id).with_for_update())


def _recent_pending(student: User, plan: PricingPlan, price: PlanPriceChoice,
                    started_by: str) -> Purchase | None:
    since = utcnow() - timedelta(minutes=current_app.config["PENDING_PURCHASE_REUSE_MINUTES"])
    return db.session.scalars(
        select(Purchase)
        .where(
            Purchase.student_id == student.id,
            Purchase.plan_id == plan.id,
            Purchase.started_by == started_by,
            Purchase.status == PurchaseStatus.PENDING.value,
            Purchase.created_at >= since,
            Purchase.price_minor == price.amount_minor,
            Purchase.currency == price.currency,
            Purchase.payment_intent_id.is_not(None),
        )
        .order_by(Purchase.created_at.desc())
        .limit(1)
    ).first()


def initiate_purchase(
    *, plan_id: int, name: str, email: str, acting_user: User | None, started_by: str,
    client_ip: str | None = None, currency: str | None = None,
) -> InitiatedPurchase:
    """Create (or reuse, within 30 minutes) a pending purchase and its PaymentIntent, for
    the plan's price in `currency` (euros when None; ValidationError on `currency` when the
    plan has no price in it).

    `started_by` identifies the caller (a hash of its browser's checkout key). A pending
    purchase is reused only by the caller that started it, so an email address alone never
    hands out someone's payment; concurrent starts by one caller (a double-click) wait for
    each other and share one purchase. A pending purchase whose payment went through
    meanwhile is settled (credited) first, never paid twice. `client_ip` is where the
    purchase is started from, recorded once: its declines count against that address.
    Flushes, never commits: a failure anywhere leaves nothing once the caller rolls back.
    """
    plan = purchasable_plan(plan_id, currency)
    price = price_in(plan, currency)
    student = resolve_student(email=email, name=name, acting_user=acting_user)
    _lock_student(student)

    pending = _recent_pending(student, plan, price, started_by)
    if pending is not None:
        intent = gateway.retrieve_payment_intent(pending.payment_intent_id)
        if intent.status in _PAYABLE and intent.client_secret:
            log.info("reusing pending purchase %d for student %d", pending.id, student.id)
            return InitiatedPurchase(pending, intent.client_secret, reused=True,
                                     subscription_id=stripe_subscription_id(pending))
        fulfil_purchase(intent)

    if not plan.is_package:
        started = start_subscription(plan=plan, price=price, student=student,
                                     started_by=started_by, client_ip=client_ip,
                                     attempt_key=uuid.uuid4().hex)
        return InitiatedPurchase(started.purchase, started.client_secret, reused=False,
                                 subscription_id=started.stripe_subscription_id)

    purchase = Purchase(
        student_id=student.id,
        plan_id=plan.id,
        plan_name=plan.name,
        plan_type=plan.plan_type,
        minutes=plan.minutes_included,
        price_minor=price.amount_minor,
        currency=price.currency,
        validity_days=plan.validity_days,
        status=PurchaseStatus.PENDING.value,
        attempt_key=uuid.uuid4().hex,
        started_by=started_by,
        client_ip=client_ip,
    )
    db.session.add(purchase)
    db.session.flush()
    intent = gateway.create_payment_intent(
        amount=purchase.price_minor,
        currency=purchase.currency,
        metadata={
            "purchase_id": str(purchase.id),
            "student_id": str(student.id),
            "plan_id": str(plan.id),
        },
        idempotency_key=f"purchase-{purchase.attempt_key}",
        description=f"{plan.name} (purchase {purchase.id})",
        receipt_email=student.email,
    )
    purchase.payment_intent_id = intent.id
    db.session.flush()
    log.info("initiated purchase %d (%s) for student %d", purchase.id, intent.id, student.id)
    return InitiatedPurchase(purchase, intent.client_secret or "", reused=False)
