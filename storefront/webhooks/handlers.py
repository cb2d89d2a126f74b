"""Recording a verified Stripe event and applying it, inside the caller's transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import bindparam, select, text, update

from storefront.errors import StorefrontError
from storefront.extensions import db
from storefront.ledger.credit import AlsoWrite
from storefront.models import Purchase, WebhookEvent, WebhookOutcome
from storefront.models.base import UTCDateTime, utcnow
from storefront.payments import gateway
from storefront.payments.errors import PaymentError
from storefront.payments.gateway import StripeEvent
from storefront.purchases import FulfilOutcome, fulfil_purchase, refunds, subscriptions
from storefront.purchases.declines import record_decline
from storefront.purchases.subscriptions import SyncOutcome

log = logging.getLogger(__name__)

_FULFIL_OUTCOMES = {
    FulfilOutcome.CREDITED: WebhookOutcome.PROCESSED,
    FulfilOutcome.UPDATED: WebhookOutcome.PROCESSED,
    FulfilOutcome.UNCHANGED: WebhookOutcome.IGNORED,
    FulfilOutcome.STALE: WebhookOutcome.IGNORED,
    FulfilOutcome.NOT_OURS: WebhookOutcome.IGNORED,
    FulfilOutcome.MISMATCH: WebhookOutcome.FAILED,
}


class EventRow:
    """The row of the event being applied. Its outcome is written after the handler, unless
    the handler wrote that same outcome with its own last statement (outcome_write)."""

    def __init__(self, row_id: int) -> None:
        self.id = row_id
        self.recorded: tuple[WebhookOutcome, str] | None = None

    def outcome_write(self, outcome: WebhookOutcome, detail: str) -> AlsoWrite:
        """The write of this outcome, for the caller to execute with its statement."""
        self.recorded = (outcome, detail)
        return AlsoWrite(_RECORD_OUTCOME, {"row_id": self.id, "new_outcome": outcome.value,
                                           "new_detail": detail, "new_processed_at": utcnow()})


def _payment_intent_event(event: StripeEvent, row: EventRow) -> tuple[WebhookOutcome, str]:
    intent = gateway.payment_intent_from_event(event)
    happened = datetime.fromtimestamp(event.created, UTC) if event.created else None

    def recorded_with_credit(purchase: Purchase) -> AlsoWrite:
        # A credit's outcome is known before it is written: record it in the same statement.
        return row.outcome_write(WebhookOutcome.PROCESSED,
                                 _fulfil_detail(FulfilOutcome.CREDITED, purchase, intent.id))

    outcome, purchase = fulfil_purchase(intent, paid_at=happened,
                                        with_credit=recorded_with_credit)
    if event.type == "payment_intent.payment_failed":
        record_decline(intent, reported_by="webhook", event_id=event.id)
    return _FULFIL_OUTCOMES[outcome], _fulfil_detail(outcome, purchase, intent.id)


def _fulfil_detail(outcome: FulfilOutcome, purchase: Purchase | None, intent_id: str) -> str:
    where = f"purchase {purchase.id}" if purchase else "no purchase"
    return f"{outcome.value}: {where} ({intent_id})"


def _charge_refunded(event: StripeEvent, _row: EventRow) -> tuple[WebhookOutcome, str]:
    charge = gateway.charge_from_event(event)
    purchase = refunds.apply_charge(charge)
    if purchase is None:
        return WebhookOutcome.IGNORED, f"not ours ({charge.id})"
    return WebhookOutcome.PROCESSED, (
        f"purchase {purchase.id}: {purchase.status}, refunded {purchase.refunded_minor}")


def _dispute(event: StripeEvent, _row: EventRow) -> tuple[WebhookOutcome, str]:
    dispute = gateway.dispute_from_event(event)
    purchase = refunds.apply_dispute(dispute, opened=event.type == "charge.dispute.created")
    if purchase is None:
        return WebhookOutcome.IGNORED, f"not ours ({dispute.id})"
    return WebhookOutcome.PROCESSED, f"purchase {purchase.id}: dispute {dispute.status}"


_SYNC_OUTCOMES = {
    SyncOutcome.CREDITED: WebhookOutcome.PROCESSED,
    SyncOutcome.UPDATED: WebhookOutcome.PROCESSED,
    SyncOutcome.UNCHANGED: WebhookOutcome.IGNORED,
    SyncOutcome.STALE: WebhookOutcome.IGNORED,
    SyncOutcome.NOT_OURS: WebhookOutcome.IGNORED,
}


def _invoice_paid(event: StripeEvent, _row: EventRow) -> tuple[WebhookOutcome, str]:
    invoice = gateway.invoice_from_event(event)
    outcome, purchase = subscriptions.credit_invoice(invoice, event.created)
    where = f"purchase {purchase.id}" if purchase else "no purchase"
    return _SYNC_OUTCOMES[outcome], f"{outcome.value}: {where} ({invoice.id})"


def _invoice_payment_failed(event: StripeEvent, _row: EventRow) -> tuple[WebhookOutcome, str]:
    invoice = gateway.invoice_from_event(event)
    outcome, subscription = subscriptions.invoice_payment_failed(invoice, event.created)
    where = f"subscription {subscription.id}" if subscription else "no subscription"
    return _SYNC_OUTCOMES[outcome], f"{outcome.value}: {where} ({invoice.id})"


def _subscription_event(event: StripeEvent, _row: EventRow) -> tuple[WebhookOutcome, str]:
    info = gateway.subscription_from_event(event)
    outcome, subscription = subscriptions.sync_subscription(info, event.created)
    where = (f"subscription {subscription.id} {subscription.status}" if subscription
             else "no subscription")
    return _SYNC_OUTCOMES[outcome], f"{outcome.value}: {where} ({info.id})"


HANDLERS: dict[str, Callable[[StripeEvent, EventRow], tuple[WebhookOutcome, str]]] = {
    "payment_intent.succeeded": _payment_intent_event,
    "payment_intent.processing": _payment_intent_event,
    "payment_intent.payment_failed": _payment_intent_event,
    "payment_intent.canceled": _payment_intent_event,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute,
    "charge.dispute.updated": _dispute,
    "charge.dispute.closed": _dispute,
    "invoice.paid": _invoice_paid,
    "invoice.payment_succeeded": _invoice_paid,
    "invoice.payment_failed": _invoice_payment_failed,
    "customer.subscription.created": _subscription_event,
    "customer.subscription.updated": _subscription_event,
    "customer.subscription.deleted": _subscription_event,
}


def already_received(event_id: str) -> bool:
    """Whether this Stripe event id has been recorded (and so applied) before."""
    return db.session.scalar(
        select(WebhookEvent.id).where(WebhookEvent.stripe_event_id == event_id)
    ) is not None


# Written out rather than built with the dialects' insert().on_conflict_do_nothing(), which
# SQLAlchemy 2.0 compiles afresh for every execution: this is the whole of a repeated event's
# work. PostgreSQL and SQLite (3.35+) read it alike.
_INSERT_EVENT = text(
    "INSERT INTO webhook_events (stripe_event_id, type, payload, received_at, processed_at,"
    " outcome, detail)"
    " VALUES (:stripe_event_id, :type, :payload, :received_at, :processed_at, :outcome, :detail)"
    " ON CONFLICT (stripe_event_id) DO NOTHING RETURNING id"
).bindparams(bindparam("received_at", type_=UTCDateTime()),
             bindparam("processed_at", type_=UTCDateTime()))


_events = WebhookEvent.__table__
# A Core statement built once (the ORM's UPDATE, rebuilt per event, cost more than the write).
_RECORD_OUTCOME = (update(_events).where(_events.c.id == bindparam("row_id"))
                   .values(outcome=bindparam("new_outcome"), detail=bindparam("new_detail"),
                           processed_at=bindparam("new_processed_at")))


def _insert_event(event: StripeEvent, payload: bytes, outcome: str | None = None,
                  detail: str | None = None, processed_at: datetime | None = None) -> int | None:
    """Insert the event's row unless its id is recorded already: the new row's id, or None.

    One statement. A concurrent delivery of the same id waits on the unique index until
    the first one's transaction ends, then finds the row (or inserts it, if that rolled back).
    """
    return db.session.execute(_INSERT_EVENT, {
        "stripe_event_id": event.id, "type": event.type, "payload": payload.decode("utf-8"),
        "received_at": utcnow(), "processed_at": processed_at, "outcome": outcome,
        "detail": detail,
    }).scalar_one_or_none()


class EventRefused(Exception):
    """Applying the event was refused for a reason retrying will not change."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def record_and_apply(event: StripeEvent, payload: bytes) -> bool:
    """Store the event row and apply its effects; flushes, the caller commits. False, with
    nothing done, when the event id was recorded before.

    Raises EventRefused (the caller rolls back, then keeps the event with record_refused),
    PaymentError when Stripe could not be asked, and PurchaseNotVisibleYet when Stripe
    should retry later.
    """
    row_id = _insert_event(event, payload)
    if row_id is None:
        return False
    handler = HANDLERS.get(event.type)
    row = EventRow(row_id)
    if handler is None:
        outcome, detail = WebhookOutcome.IGNORED, "unhandled event type"
    else:
        try:
            outcome, detail = handler(event, row)
        except PaymentError:
            raise  # Stripe could not be asked: let Stripe retry the event
        except StorefrontError as refusal:
            raise EventRefused(f"refused: {refusal.message}") from refusal
    if row.recorded != (outcome, detail):
        db.session.execute(*row.outcome_write(outcome, detail))
    level = logging.ERROR if outcome is WebhookOutcome.FAILED else logging.INFO
    log.log(level, "webhook %s %s: %s", event.id, event.type, detail)
    return True


def record_refused(event: StripeEvent, payload: bytes, detail: str) -> None:
    """Keep a refused event, marked failed, once its effects were rolled back (a refusal
    retrying will not change); flushes, the caller commits."""
    _insert_event(event, payload, outcome=WebhookOutcome.FAILED.value, detail=detail,
                  processed_at=utcnow())
    log.error("webhook %s %s: %s", event.id, event.type, detail)
