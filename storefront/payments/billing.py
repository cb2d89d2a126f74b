"""Stripe Billing objects (Subscription, Invoice) as carried by webhook events, read into
plain dataclasses: in the shape of API version 2025-03-31 and later, and the older one.

No Stripe calls here: the gateway, the only package importing stripe, reads events with
these (invoice_from_event, subscription_from_event) and asks Stripe what an event lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def _id_of(value: Any) -> str | None:
    """An id whether Stripe sent the id or the expanded object."""
    if value is None or isinstance(value, str):
        return value
    return value["id"]


def _stamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def _metadata(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


@dataclass(frozen=True)
class SubscriptionInfo:
    """What the storefront keeps of a Stripe Subscription."""

    id: str
    status: str
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    ended_at: datetime | None
    metadata: dict[str, str] = field(default_factory=dict)
    # Its (first) item and the Price it bills: what a plan switch changes.
    item_id: str | None = None
    price_id: str | None = None
    # The plan our `stripe sync-plans` named in that Price's metadata, if Stripe sent it.
    price_plan_id: str | None = None
    latest_invoice_id: str | None = None
    customer_id: str | None = None


@dataclass(frozen=True)
class InvoiceInfo:
    """A subscription invoice: what was paid, for which billing period, through which
    PaymentIntent (if Stripe said)."""

    id: str
    subscription_id: str | None
    status: str
    amount_paid: int
    amount_due: int
    currency: str
    created: int
    paid_at: datetime | None
    period_start: datetime | None
    period_end: datetime | None
    payment_intent_id: str | None
    subscription_metadata: dict[str, str] = field(default_factory=dict)
    # Whether the event carried the invoice's payments (Stripe includes them only expanded).
    payments_included: bool = False
    # The Price its subscription line bills: the plan the month was sold as.
    price_id: str | None = None


def subscription_from_object(obj: Mapping[str, Any]) -> SubscriptionInfo:
    """A Subscription object as an event carries it.

    Since API version 2025-03-31 the billing period lives on the subscription's items;
    older versions put it on the subscription itself.
    """
    start, end = obj.get("current_period_start"), obj.get("current_period_end")
    items = [item for item in (obj.get("items") or {}).get("data") or []
             if item.get("current_period_end")]
    if items and not end:
        start = min(int(item["current_period_start"]) for item in items)
        end = max(int(item["current_period_end"]) for item in items)
    first = ((obj.get("items") or {}).get("data") or [{}])[0]
    price = first.get("price") or first.get("plan") or {}
    price_metadata = price.get("metadata") if isinstance(price, Mapping) else None
    return SubscriptionInfo(
        id=str(obj["id"]), status=str(obj["status"]),
        current_period_start=_stamp(start), current_period_end=_stamp(end),
        cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
        canceled_at=_stamp(obj.get("canceled_at")), ended_at=_stamp(obj.get("ended_at")),
        metadata=_metadata(obj.get("metadata")),
        item_id=first.get("id"), price_id=_id_of(price or None),
        price_plan_id=_metadata(price_metadata).get("plan_id"),
        latest_invoice_id=_id_of(obj.get("latest_invoice")),
        customer_id=_id_of(obj.get("customer")),
    )


def paying_intent(payments: list[Mapping[str, Any]]) -> str | None:
    """The PaymentIntent of an invoice's payments, the paid one first."""
    ranked = sorted(payments, key=lambda p: p.get("status") != "paid")
    for invoice_payment in ranked:
        payment = invoice_payment.get("payment") or {}
        if intent := _id_of(payment.get("payment_intent")):
            return intent
    return None


def _invoice_payment_intent(obj: Mapping[str, Any]) -> str | None:
    """The PaymentIntent that paid the invoice: from `payments` (2025-03-31 and later; the
    paid one first), or the older `payment_intent` field."""
    return (paying_intent((obj.get("payments") or {}).get("data") or [])
            or _id_of(obj.get("payment_intent")))


def _line_price(line: Mapping[str, Any]) -> str | None:
    """A line's Price: `pricing.price_details.price` (2025-03-31 and later), else the older
    `price` or `plan`."""
    details = (line.get("pricing") or {}).get("price_details") or {}
    return (_id_of(details.get("price")) or _id_of(line.get("price"))
            or _id_of(line.get("plan")))


def invoice_from_object(obj: Mapping[str, Any]) -> InvoiceInfo:
    """An Invoice object as an event carries it, in the current shape (subscription under
    `parent.subscription_details`) or the older one (`subscription` at the top)."""
    details = (obj.get("parent") or {}).get("subscription_details") or {}
    subscription = _id_of(details.get("subscription")) or _id_of(obj.get("subscription"))
    metadata = details.get("metadata") or (obj.get("subscription_details") or {}).get("metadata")
    periods, prices = [], []
    for line in (obj.get("lines") or {}).get("data") or []:
        parent = line.get("parent") or {}
        from_subscription = (parent.get("type") == "subscription_item_details"
                             or line.get("type") == "subscription" or not parent)
        if from_subscription and (line.get("period") or {}).get("end"):
            periods.append((int(line["period"]["start"]), int(line["period"]["end"])))
            prices.append(_line_price(line))
    transitions = obj.get("status_transitions") or {}
    return InvoiceInfo(
        id=str(obj["id"]), subscription_id=subscription, status=str(obj.get("status")),
        amount_paid=int(obj.get("amount_paid") or 0),
        amount_due=int(obj.get("amount_due") or 0),
        currency=str(obj.get("currency") or "").lower(), created=int(obj.get("created") or 0),
        paid_at=_stamp(transitions.get("paid_at")),
        period_start=_stamp(min(s for s, _ in periods)) if periods else None,
        period_end=_stamp(max(e for _, e in periods)) if periods else None,
        payment_intent_id=_invoice_payment_intent(obj),
        subscription_metadata=_metadata(metadata),
        payments_included="payments" in obj or "payment_intent" in obj,
        price_id=next((price for price in prices if price), None),
    )
