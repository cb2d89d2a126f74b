"""Stripe Billing objects as API version 2026-10-28 shapes them (Stripe's API reference:
Invoice, Subscription), for events the emulator cannot produce."""

from __future__ import annotations

import time

DAY = 86400


def subscription_object(sub_id: str, *, status: str = "active", start: int | None = None,
                        student_id: int | None = None, plan_id: int | None = None,
                        cancel_at_period_end: bool = False, canceled_at: int | None = None,
                        ended_at: int | None = None, price: str = "price_test") -> dict:
    """A Subscription; since 2025-03-31 its billing period is on its items."""
    start = start or int(time.time())
    metadata = {}
    if student_id is not None:
        metadata = {"student_id": str(student_id), "plan_id": str(plan_id)}
    return {
        "id": sub_id, "object": "subscription", "status": status, "customer": "cus_test",
        "cancel_at_period_end": cancel_at_period_end, "canceled_at": canceled_at,
        "ended_at": ended_at, "created": start, "metadata": metadata,
        "items": {"object": "list", "has_more": False, "data": [{
            "id": f"si_{sub_id}", "object": "subscription_item",
            "current_period_start": start, "current_period_end": start + 30 * DAY,
            "price": {"id": price, "object": "price", "unit_amount": 11900}}]},
    }


def invoice_object(invoice_id: str, sub_id: str, *, period_start: int, amount: int = 11900,
                   status: str = "paid", payment_intent: str | None = None,
                   student_id: int | None = None, plan_id: int | None = None,
                   price: str = "price_test") -> dict:
    """An Invoice of a subscription: the subscription under parent.subscription_details,
    the paying PaymentIntent under payments, the period and Price on the subscription's
    line."""
    period_end = period_start + 30 * DAY
    metadata = {}
    if student_id is not None:
        metadata = {"student_id": str(student_id), "plan_id": str(plan_id)}
    paid = status == "paid"
    payments = []
    if payment_intent:
        payments = [{"id": f"inpay_{invoice_id}", "object": "invoice_payment",
                     "status": "paid" if paid else "open", "is_default": True,
                     "payment": {"type": "payment_intent", "payment_intent": payment_intent}}]
    return {
        "id": invoice_id, "object": "invoice", "status": status, "currency": "eur",
        "customer": "cus_test", "created": period_start, "billing_reason": "subscription_cycle",
        "amount_due": amount, "amount_paid": amount if paid else 0,
        "amount_remaining": 0 if paid else amount,
        "period_start": period_start - 30 * DAY, "period_end": period_start,
        "status_transitions": {"paid_at": period_start + 60 if paid else None},
        "parent": {"type": "subscription_details", "quote_details": None,
                   "subscription_details": {"subscription": sub_id, "metadata": metadata}},
        "lines": {"object": "list", "has_more": False, "data": [{
            "id": f"il_{invoice_id}", "object": "line_item", "amount": amount,
            "currency": "eur", "period": {"start": period_start, "end": period_end},
            "pricing": {"type": "price_details", "unit_amount_decimal": str(amount),
                        "price_details": {"price": price, "product": "prod_test"}},
            "parent": {"type": "subscription_item_details",
                       "subscription_item_details": {"subscription": sub_id,
                                                     "subscription_item": f"si_{sub_id}"}}}]},
        "payments": {"object": "list", "has_more": False, "data": payments},
    }
