"""Comparing our purchases with Stripe's records, and repairing what a lost webhook missed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from storefront.extensions import db
from storefront.models import Purchase
from storefront.payments import gateway
from storefront.payments.errors import PaymentError
from storefront.purchases.fulfil import FulfilOutcome, PurchaseNotVisibleYet, fulfil_purchase
from storefront.purchases.lookup import purchase_for_intent
from storefront.purchases.refunds import record_refunded_total

log = logging.getLogger(__name__)
# Errors that mean Stripe cannot be used for any payment: the run stops (exit 2). Any other
# Stripe error concerns the one payment, which is reported, and the run goes on.
STRIPE_UNUSABLE = frozenset({"api_connection_error", "authentication_error", "rate_limit_error"})


@dataclass(frozen=True)
class Finding:
    """A payment that still disagrees with Stripe (mismatch) or could not be settled
    (failure), as staff see it on the webhook log."""

    kind: str
    detail: str
    purchase_id: int | None = None
    payment_intent_id: str | None = None


@dataclass
class ReconcileReport:
    checked: int = 0
    fulfilled: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    refunds: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # payments we could not settle
    findings: list[Finding] = field(default_factory=list)  # mismatches and failures

    def mismatch(self, detail: str, purchase_id: int | None, payment_intent_id: str) -> None:
        """Report a payment that disagrees with Stripe."""
        self.mismatches.append(detail)
        self.findings.append(Finding("mismatch", detail, purchase_id, payment_intent_id))


def _isolated(report: ReconcileReport, what: str, payment_intent_id: str,
              work: Callable[[], None]) -> None:
    """Do one payment's work in a savepoint: if it fails, only its changes are undone, the
    failure is reported and the run goes on. Stripe being unusable (STRIPE_UNUSABLE) still
    stops the run."""
    lines = [report.fulfilled, report.updated, report.refunds, report.mismatches,
             report.findings]
    counts = [len(found) for found in lines]
    try:
        with db.session.begin_nested():
            work()
            db.session.flush()
    except PaymentError as error:
        if error.error_type in STRIPE_UNUSABLE:
            raise
        _undo_report(report, lines, counts, what, payment_intent_id,
                     f"Stripe said {error.error_type}")
    except Exception as error:  # noqa: BLE001  (one bad purchase must not stop the rest)
        _undo_report(report, lines, counts, what, payment_intent_id, type(error).__name__)


def _undo_report(report: ReconcileReport, lines: list[list], counts: list[int], what: str,
                 payment_intent_id: str, why: str) -> None:
    log.exception("reconcile: %s could not be settled", what)
    for found, count in zip(lines, counts, strict=True):
        del found[count:]  # what it reported was undone
    detail = f"{what}: {why} (see the log)"
    report.failures.append(detail)
    purchase = purchase_for_intent(payment_intent_id)
    report.findings.append(Finding("failure", detail, purchase.id if purchase else None,
                                   payment_intent_id))


def _apply_refunds(purchase: Purchase, report: ReconcileReport) -> None:
    charge = gateway.charge_of_payment_intent(purchase.payment_intent_id)
    if charge is not None and charge.amount_refunded > purchase.refunded_minor:
        record_refunded_total(purchase, charge.amount_refunded)
        report.refunds.append(
            f"purchase {purchase.id}: refund of {charge.amount_refunded} applied")


def _reconcile_intent(intent: gateway.PaymentIntentInfo, report: ReconcileReport) -> None:
    report.checked += 1
    purchase = purchase_for_intent(intent.id)
    if purchase is None:
        report.mismatch(
            f"{intent.id}: names purchase {intent.purchase_id}, which we do not have",
            None, intent.id)
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
        report.mismatch(
            f"purchase {purchase.id} ({intent.id}): Stripe has {intent.amount} "
            f"{intent.currency}, we have {purchase.price_minor} {purchase.currency}",
            purchase.id, intent.id)
    if intent.status == "succeeded" and not purchase.is_paid and \
            outcome is not FulfilOutcome.MISMATCH:
        report.mismatch(
            f"purchase {purchase.id} ({intent.id}): paid at Stripe but {purchase.status}",
            purchase.id, intent.id)
    if purchase.is_paid:
        _apply_refunds(purchase, report)


def reconcile(since: datetime, checkpoint: Callable[[], None]) -> ReconcileReport:
    """Walk Stripe's PaymentIntents created since `since` and the refunds made since then
    (on payments of any age): fulfil paid ones we did not credit, apply refunds we did not
    hear of, and report what still disagrees. Each payment is settled on its own: one that
    fails is rolled back and reported, and the others go on. `checkpoint` runs after each
    payment (the caller commits there). Idempotent."""
    report = ReconcileReport()
    seen = set()
    for intent in gateway.recent_payment_intents(since):
        purchase_id = intent.purchase_id
        if purchase_id is None:
            # A subscription invoice's PaymentIntent carries none of our metadata.
            found = purchase_for_intent(intent.id)
            if found is None:
                continue
            purchase_id = found.id
        seen.add(intent.id)
        _isolated(report, f"purchase {purchase_id} ({intent.id})", intent.id,
                  lambda intent=intent: _reconcile_intent(intent, report))
        checkpoint()
    for intent_id in sorted(gateway.recent_refunded_payment_intents(since) - seen):
        _isolated(report, f"refund of {intent_id}", intent_id,
                  lambda intent_id=intent_id: _refund_of(intent_id, report))
        checkpoint()
    return report


def _refund_of(payment_intent_id: str, report: ReconcileReport) -> None:
    purchase = purchase_for_intent(payment_intent_id, lock=True)
    if purchase is not None and purchase.is_paid:
        _apply_refunds(purchase, report)
