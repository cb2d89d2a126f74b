"""Staff ending a student's subscription at Stripe, now or at the end of its paid period.

Stripe's answer is applied like an event dated by Stripe's clock (its answer's Date, or the
moment it records for the cancellation), so a newer webhook already applied is never undone and a
later one still applies.
"""

from __future__ import annotations

import logging
import time

from storefront.errors import NotFound, StorefrontError
from storefront.extensions import db
from storefront.models import Subscription, User
from storefront.payments import gateway
from storefront.purchases.subscriptions import sync_subscription

log = logging.getLogger(__name__)


class SubscriptionEnded(StorefrontError):
    """The subscription has already ended: nothing to cancel."""

    error_type = "invalid_state"
    status = 409


def subscription_by_id(subscription_id: int) -> Subscription:
    """Our subscription row; NotFound if there is none."""
    subscription = db.session.get(Subscription, subscription_id)
    if subscription is None:
        raise NotFound(f"No subscription {subscription_id}.")
    return subscription


def cancel_subscription(subscription: Subscription, *, at_period_end: bool, staff: User,
                        request_key: str) -> Subscription:
    """Ask Stripe to end the subscription (now, or when its paid period ends) and record what
    Stripe answers; `request_key` makes a repeated submission one request (flushes)."""
    if subscription.is_terminal:
        raise SubscriptionEnded("This subscription has already ended.")
    if at_period_end and subscription.cancel_at_period_end:
        raise SubscriptionEnded("This subscription already ends at the end of its period.")
    stripe_id = subscription.stripe_subscription_id
    if at_period_end:
        snapshot = gateway.set_cancel_at_period_end(
            stripe_id, True,
            idempotency_key=f"staff-cancel-at-period-end-{stripe_id}-{request_key}")
        info, created = snapshot.subscription, snapshot.stripe_time
    else:
        info = gateway.cancel_subscription(
            stripe_id, idempotency_key=f"staff-cancel-now-{stripe_id}-{request_key}")
        stamp = info.ended_at or info.canceled_at
        created = int(stamp.timestamp()) if stamp else int(time.time())
    outcome, synced = sync_subscription(info, created)
    log.info("staff %d (%s) cancelled subscription %d (%s) %s: Stripe says %s%s; %s",
             staff.id, staff.email, subscription.id, stripe_id,
             "at period end" if at_period_end else "now", info.status,
             ", cancel at period end" if info.cancel_at_period_end else "", outcome.value)
    return synced or subscription
