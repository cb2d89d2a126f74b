"""Settling a purchase from a PaymentIntent: the one idempotent path that credits hours.

Called by the webhook and by the checkout complete page, possibly at the same moment: the
purchase row is locked, re-read, and moved only forwards.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from datetime import datetime

from storefront.account.services import (
    bank_payment_failed,
    purchase_credited,
    purchase_credited_mail,
)
from storefront.extensions import db
from storefront.ledger.credit import AlsoWrite, credit_paid_purchase
from storefront.ledger.pending import credit_pending_lot, pend_purchase, remove_pending
from storefront.models import Purchase, PurchaseStatus
from storefront.models.base import utcnow
from storefront.payments.gateway import PaymentIntentInfo
from storefront.purchases.lookup import package_purchase_for_intent, purchase_for_intent
from storefront.purchases.subscriptions import SyncOutcome, settle_first_invoice

log = logging.getLogger(__name__)


class FulfilOutcome(enum.StrEnum):
    CREDITED = "credited"  # paid: status completed and hours credited now
    UPDATED = "updated"  # status moved (processing, failed, cancelled)
    UNCHANGED = "unchanged"  # already in that state (a duplicate, or the other path won)
    STALE = "stale"  # would move backwards, e.g. a late failure after success
    MISMATCH = "mismatch"  # amount or currency differ from the purchase: nothing credited
    NOT_OURS = "not_ours"  # no purchase and no metadata of ours


_SUBSCRIPTION_OUTCOMES = {SyncOutcome.CREDITED: FulfilOutcome.CREDITED,
                          SyncOutcome.NOT_OURS: FulfilOutcome.NOT_OURS}


class PurchaseNotVisibleYet(Exception):
    """The PaymentIntent names one of our purchases that this transaction cannot see (yet)."""


def _target_status(intent: PaymentIntentInfo) -> PurchaseStatus | None:
    if intent.status == "succeeded":
        return PurchaseStatus.COMPLETED
    if intent.status == "processing":
        return PurchaseStatus.PROCESSING
    if intent.status == "canceled":
        return PurchaseStatus.CANCELLED
    if intent.status == "requires_payment_method" and intent.error_message:
        return PurchaseStatus.FAILED
    return None


def fulfil_purchase(
    intent: PaymentIntentInfo, paid_at: datetime | None = None,
    with_credit: Callable[[Purchase], AlsoWrite] | None = None,
) -> tuple[FulfilOutcome, Purchase | None]:
    """Move the purchase to what the PaymentIntent says, crediting hours once when paid.

    `paid_at` is when Stripe took the payment, when known (the event's time); the hours'
    validity runs from then, however late we hear of it. A subscription's first month is
    settled through its invoice (credited until the billing period's end). When a package's
    payment is credited in one statement, `with_credit(purchase)` gives a write to make in
    that statement too (the webhook's record of its event); it is called for nothing else.
    """
    # A package purchase (the common case) is locked at once. A subscription's month is
    # only ever one from its creation on, so it is never locked here, out of order.
    purchase = package_purchase_for_intent(intent.id)
    if purchase is None:
        found = purchase_for_intent(intent.id)
        if (found is not None and found.subscription_id is not None and not found.is_paid
                and intent.status == "succeeded"):
            # The subscription row is locked before the purchase, in the webhook's order.
            outcome, purchase = settle_first_invoice(found)
            return _SUBSCRIPTION_OUTCOMES.get(outcome, FulfilOutcome.UNCHANGED), purchase
        purchase = purchase_for_intent(intent.id, lock=True)
    if purchase is None:
        if intent.purchase_id is not None:
            raise PurchaseNotVisibleYet(intent.id)
        return FulfilOutcome.NOT_OURS, None

    target = _target_status(intent)
    if target is None or target is purchase.state:
        return FulfilOutcome.UNCHANGED, purchase
    if not purchase.can_move_to(target):
        log.info("purchase %d: ignoring %s (%s) while %s", purchase.id, intent.status,
                 intent.id, purchase.status)
        return FulfilOutcome.STALE, purchase

    pends = target is PurchaseStatus.PROCESSING and purchase.subscription_id is None
    if (target is PurchaseStatus.COMPLETED or pends) and (
            intent.amount != purchase.price_minor or intent.currency != purchase.currency):
        log.error(
            "purchase %d: %s is %s for %d %s but the purchase is %d %s; not crediting",
            purchase.id, intent.id, intent.status, intent.amount, intent.currency,
            purchase.price_minor, purchase.currency,
        )
        return FulfilOutcome.MISMATCH, purchase

    if target is PurchaseStatus.COMPLETED:
        paid_at = min(paid_at or utcnow(), utcnow())
        if purchase.state in _MAY_HAVE_A_LOT and _credit_pending(purchase, paid_at):
            return FulfilOutcome.CREDITED, purchase
        # The purchase completed, its hours (dated from paid_at), the balance and the email,
        # written together: one statement on PostgreSQL.
        credit_paid_purchase(purchase, paid_at,
                             {"status": target.value, "failure_message": None},
                             mail=purchase_credited_mail,
                             also=with_credit(purchase) if with_credit else None)
        return FulfilOutcome.CREDITED, purchase

    was = purchase.state
    purchase.status = target.value
    if target is PurchaseStatus.FAILED:
        purchase.failure_message = intent.error_message
    if pends:
        pend_purchase(purchase)  # a bank payment clearing: its hours pending meanwhile
    elif was is PurchaseStatus.PROCESSING and remove_pending(purchase):
        bank_payment_failed(purchase)
    db.session.flush()
    log.info("purchase %d: now %s (%s)", purchase.id, purchase.status, intent.id)
    return FulfilOutcome.UPDATED, purchase


# A purchase that was processing (or failed after) may have a lot with pending minutes, or
# one whose pending minutes were removed: its credit goes to that lot. A card paid at once
# has none, and is credited in one statement.
_MAY_HAVE_A_LOT = frozenset({PurchaseStatus.PROCESSING, PurchaseStatus.FAILED})


def _credit_pending(purchase: Purchase, paid_at: datetime) -> bool:
    """Credit the purchase's existing lot (its pending minutes cleared); False when it has
    none, for the usual credit."""
    lot = credit_pending_lot(purchase, paid_at)
    if lot is None:
        return False
    purchase.status = PurchaseStatus.COMPLETED.value
    purchase.failure_message = None
    purchase.paid_at = paid_at
    purchase_credited(purchase)
    db.session.flush()
    return True
