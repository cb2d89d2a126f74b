"""Comparing our purchases with Stripe's records, and repairing what a lost webhook missed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from storefront import ledger
from storefront.extensions import db
from storefront.models import Purchase
from storefront.payments import gateway
from storefront.purchases.fulfil import FulfilOutcome, PurchaseNotVisibleYet, fulfil_purchase
from storefront.purchases.lookup import purchase_for_intent

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    checked: int = 0
    fulfilled: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    refunds: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)


def _apply_refunds(purchase: Purchase, report: ReconcileReport) -> None:
    charge = gateway.charge_of_payment_intent(purchase.payment_intent_id)
    if charge is not None and charge.amount_refunded > purchase.refunded_minor:
        ledger.apply_refunded_total(purchase, charge.amount_refunded)
        report.refunds.append(
            f"purchase {purchase.id}: refund of {charge.amount_refunded} applied")


def _reconcile_intent(intent: gateway.PaymentIntentInfo, report: ReconcileReport) -> None:
    report.checked += 1
    purchase = purchase_for_intent(intent.id)
    if purchase is None:
        report.mismatches.append(
            f"{intent.id}: names purchase {intent.purchase_id}, which we do not have")
        return
    paid_at = None
    if intent.status == "succeeded" and not purchase.is_paid:
        charge = gateway.charge_of_payment_intent(intent.id)
        paid_at = charge.created if charge else None
    try:
        outcome, purchase = fulfil_purchase(intent, paid_at=paid_at)
    except PurchaseNotVisibleYet:  # pragma: no cover - the row was found just above
        return
    if outcome is FulfilOutcome.CREDITED:
        report.fulfilled.append(f"purchase {purchase.id} ({intent.id}): hours credited")
    elif outcome is FulfilOutcome.UPDATED:
        report.updated.append(f"purchase {purchase.id} ({intent.id}): now {purchase.status}")
    elif outcome is FulfilOutcome.MISMATCH:
        report.mismatches.append(
            f"purchase {purchase.id} ({intent.id}): Stripe has {intent.amount} "
            f"{intent.currency}, we have {purchase.price_minor} {purchase.currency}")
    if intent.status == "succeeded" and not purchase.is_paid and \
            outcome is not FulfilOutcome.MISMATCH:
        report.mismatches.append(
            f"purchase {purchase.id} ({intent.id}): paid at Stripe but {purchase.status}")
    if purchase.is_paid:
        _apply_refunds(purchase, report)


def reconcile(since: datetime, checkpoint: Callable[[], None]) -> ReconcileReport:
    """Walk Stripe's PaymentIntents created since `since` and the refunds made since then
    (on payments of any age): fulfil paid ones we did not credit, apply refunds we did not
    hear of, and report what still disagrees. `checkpoint` runs after each payment (the
    caller commits there). Idempotent."""
    report = ReconcileReport()
    seen = set()
    for intent in gateway.recent_payment_intents(since):
        if intent.purchase_id is None:
            continue
        seen.add(intent.id)
        _reconcile_intent(intent, report)
        db.session.flush()
        checkpoint()
    for intent_id in gateway.recent_refunded_payment_intents(since) - seen:
        purchase = purchase_for_intent(intent_id, lock=True)
        if purchase is not None and purchase.is_paid:
            _apply_refunds(purchase, report)
            db.session.flush()
            checkpoint()
    return report
