"""After payment: refunds and disputes (what Stripe says happened to a payment), and
extensions of a package's expiry. This module moves the purchase; the ledger moves hours."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from storefront import ledger, money
from storefront.errors import NotFound, StorefrontError, ValidationError
from storefront.extensions import db
from storefront.models import LedgerEntry, Purchase, PurchaseStatus
from storefront.payments import gateway
from storefront.payments.errors import PaymentError
from storefront.payments.gateway import ChargeInfo, DisputeInfo
from storefront.purchases.fulfil import fulfil_purchase
from storefront.purchases.lookup import purchase_for_intent

log = logging.getLogger(__name__)


class PaymentUnknown(StorefrontError):
    """A purchase whose payment at Stripe we do not know, so we cannot refund it."""

    error_type = "invalid_state"
    status = 409


def refundable_minor(purchase: Purchase) -> int:
    """How much of the payment can still be refunded (nothing after a lost dispute: the
    bank has already returned the money)."""
    if not purchase.is_paid or purchase.dispute_status == "lost":
        return 0
    return purchase.price_minor - purchase.refunded_minor


def record_refunded_total(purchase: Purchase, refunded_minor: int) -> bool:
    """Record that Stripe has refunded `refunded_minor` of this paid purchase in all: the
    purchase moves to (partially) refunded and the ledger reverses the same share of its
    hours. Stale or repeated totals change nothing (False)."""
    refunded_minor = min(refunded_minor, purchase.price_minor)
    if not purchase.is_paid or refunded_minor <= purchase.refunded_minor:
        return False
    status = (PurchaseStatus.REFUNDED if refunded_minor == purchase.price_minor
              else PurchaseStatus.PARTIALLY_REFUNDED)
    if status is not purchase.state and not purchase.can_move_to(status):
        log.error("purchase %d: cannot move from %s to %s", purchase.id, purchase.status,
                  status.value)
        return False
    purchase.refunded_minor = refunded_minor
    purchase.status = status.value
    ledger.reverse_refunded_share(purchase, refunded_minor)
    return True


def extend_package(*, purchase: Purchase, days: int, reason: str, now: datetime,
                   request_key: str | None = None) -> LedgerEntry:
    """Move a package's expiry later by `days`: the ledger dates the lot, and the purchase
    shows the new date."""
    entry = ledger.extend_expiry(purchase=purchase, days=days, reason=reason, now=now,
                                 request_key=request_key)
    purchase.expires_at = entry.lot.expires_at
    db.session.flush()
    return entry


def request_refund(*, purchase: Purchase, amount_minor: int, reason: str,
                   request_key: str) -> Purchase:
    """Refund part or all of a paid purchase through Stripe, then apply what Stripe reports.

    Never more than was paid; `request_key` makes a repeated submission one refund.
    """
    if purchase.payment_intent_id is None:
        # A subscription month whose invoice Stripe delivered without naming its payment:
        # there is nothing we could ask Stripe to refund.
        raise PaymentUnknown(
            f"Stripe has not told us which payment paid this month (invoice "
            f"{purchase.stripe_invoice_id or 'unknown'}); refund it in the Stripe Dashboard.")
    available = refundable_minor(purchase)
    if available <= 0:
        raise ValidationError.for_fields({"amount": ["Nothing left to refund on this purchase."]})
    if not 0 < amount_minor <= available:
        raise ValidationError.for_fields({"amount": [
            f"Enter an amount above 0 and at most "
            f"{money.amount_text(available, purchase.currency)}."]})
    refunded_before = purchase.refunded_minor
    gateway.create_refund(payment_intent_id=purchase.payment_intent_id, amount=amount_minor,
                          idempotency_key=f"refund-{purchase.id}-{request_key}", reason=reason)
    try:
        charge = gateway.charge_of_payment_intent(purchase.payment_intent_id)
        total = charge.amount_refunded if charge else refunded_before + amount_minor
    except PaymentError:
        # Stripe took the refund; record it now rather than invite a second one.
        log.warning("purchase %d: refund sent, charge not readable; applying its amount",
                    purchase.id)
        total = refunded_before + amount_minor
    record_refunded_total(purchase, total)
    return purchase


# A dispute in one of these states is over; a late event of an earlier state leaves it so.
_DISPUTE_CLOSED = frozenset({"won", "lost", "warning_closed"})


def _settled(purchase: Purchase) -> Purchase:
    """The purchase, credited first if Stripe has taken its payment: a refund or dispute can
    arrive before the payment's own event (Stripe does not keep order), and must not be
    dropped for it. Asks Stripe, as `flask stripe reconcile` would."""
    if purchase.is_paid or purchase.payment_intent_id is None:
        return purchase
    intent = gateway.retrieve_payment_intent(purchase.payment_intent_id)
    if intent.status != "succeeded":
        return purchase
    charge = gateway.charge_of_payment_intent(intent.id)
    _, settled = fulfil_purchase(intent, paid_at=charge.created if charge else None)
    log.info("purchase %d: settled from Stripe before its refund or dispute", purchase.id)
    return settled or purchase


def _settled_and_locked(payment_intent_id: str | None) -> Purchase | None:
    """The PaymentIntent's purchase, settled first if Stripe has taken its payment, then
    locked. Settling takes its locks in the payment events' order (a subscription's row before
    its month's purchase), so it runs before this takes the purchase's lock."""
    found = purchase_for_intent(payment_intent_id)
    if found is None:
        return None
    _settled(found)
    return purchase_for_intent(payment_intent_id, lock=True)


def apply_charge(charge: ChargeInfo) -> Purchase | None:
    """charge.refunded: bring the purchase up to the charge's refunded total."""
    purchase = _settled_and_locked(charge.payment_intent_id)
    if purchase is not None:
        record_refunded_total(purchase, charge.amount_refunded)
    return purchase


def apply_dispute(dispute: DisputeInfo, *, opened: bool) -> Purchase | None:
    """A dispute opened holds the lot's hours; closed as won releases them, lost voids them."""
    payment_intent_id = dispute.payment_intent_id
    if payment_intent_id is None and dispute.charge_id:
        payment_intent_id = gateway.payment_intent_of_charge(dispute.charge_id)
    purchase = _settled_and_locked(payment_intent_id)
    if purchase is None:
        return None
    if purchase.dispute_status not in _DISPUTE_CLOSED or dispute.status in _DISPUTE_CLOSED:
        purchase.dispute_status = dispute.status
    if opened:
        ledger.hold_for_dispute(purchase, dispute.id)
    elif dispute.status in ("won", "warning_closed", "lost"):
        ledger.close_dispute(purchase, dispute.id, won=dispute.status != "lost")
    db.session.flush()
    return purchase


def purchase_by_id(purchase_id: int) -> Purchase:
    """The purchase, locked for this transaction (always before the balance row, as the
    webhook does, so that two writers never wait on each other in opposite order)."""
    purchase = db.session.scalars(
        select(Purchase).where(Purchase.id == purchase_id).with_for_update()
        .execution_options(populate_existing=True)).first()
    if purchase is None:
        raise NotFound(f"No purchase {purchase_id}.")
    return purchase
