"""The only package that talks to Stripe.

Every Stripe error leaves it as a PaymentError, and Stripe objects leave it as plain
dataclasses, so the rest of the code never sees `stripe`: `client` builds the client and maps
errors, `intents` covers PaymentIntents, charges, refunds and disputes, `stripe_billing`
customers, products, prices, invoices and subscriptions.
"""

from __future__ import annotations

from storefront.payments.gateway.client import (
    StripeEvent,
    WebhookSignatureError,
    construct_event,
)
from storefront.payments.gateway.intents import (
    ChargeInfo,
    DisputeInfo,
    PaymentIntentInfo,
    cancel_payment_intent,
    charge_from_event,
    charge_of_payment_intent,
    confirm_with_test_card,
    create_payment_intent,
    create_refund,
    dispute_from_event,
    payment_intent_from_event,
    payment_intent_of_charge,
    recent_payment_intents,
    recent_refunded_payment_intents,
    retrieve_payment_intent,
)
from storefront.payments.gateway.stripe_billing import (
    PriceInfo,
    StartedSubscription,
    cancel_subscription,
    create_monthly_price,
    create_product,
    create_subscription,
    deactivate_price,
    ensure_customer,
    find_prices,
    invoice_from_event,
    invoice_payment_intent,
    product_exists,
    retrieve_invoice,
    retrieve_price,
    subscription_from_event,
    void_invoice,
)

__all__ = [
    "ChargeInfo", "DisputeInfo", "PaymentIntentInfo", "PriceInfo", "StartedSubscription",
    "StripeEvent", "WebhookSignatureError", "cancel_payment_intent", "cancel_subscription",
    "charge_from_event",
    "charge_of_payment_intent", "confirm_with_test_card", "construct_event",
    "create_monthly_price", "create_payment_intent", "create_product", "create_refund",
    "create_subscription", "retrieve_invoice", "void_invoice",
    "deactivate_price", "dispute_from_event", "ensure_customer", "find_prices",
    "invoice_from_event", "invoice_payment_intent", "payment_intent_from_event",
    "payment_intent_of_charge", "product_exists", "recent_payment_intents",
    "recent_refunded_payment_intents", "retrieve_payment_intent", "retrieve_price",
    "subscription_from_event",
]
