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
    SetupIntentInfo,
    StartedSubscription,
    SubscriptionSnapshot,
    cancel_subscription,
    change_subscription_price,
    confirm_setup_with_test_card,
    create_monthly_price,
    create_product,
    create_setup_intent,
    create_subscription,
    deactivate_price,
    ensure_customer,
    find_prices,
    invoice_from_event,
    invoice_payment_intent,
    pay_invoice,
    product_exists,
    retrieve_invoice,
    retrieve_price,
    retrieve_setup_intent,
    retrieve_subscription,
    set_cancel_at_period_end,
    set_subscription_payment_method,
    subscription_from_event,
    subscription_invoices,
    void_invoice,
)

__all__ = [
    "ChargeInfo", "DisputeInfo", "PaymentIntentInfo", "PriceInfo", "SetupIntentInfo",
    "StartedSubscription", "StripeEvent", "SubscriptionSnapshot", "WebhookSignatureError",
    "cancel_payment_intent", "cancel_subscription", "change_subscription_price",
    "charge_from_event", "charge_of_payment_intent", "confirm_setup_with_test_card",
    "confirm_with_test_card", "construct_event", "create_monthly_price",
    "create_payment_intent", "create_product", "create_refund", "create_setup_intent",
    "create_subscription", "deactivate_price", "dispute_from_event", "ensure_customer",
    "find_prices", "invoice_from_event", "invoice_payment_intent", "pay_invoice",
    "payment_intent_from_event", "payment_intent_of_charge", "product_exists",
    "recent_payment_intents", "recent_refunded_payment_intents", "retrieve_invoice",
    "retrieve_payment_intent", "retrieve_price", "retrieve_setup_intent",
    "retrieve_subscription", "set_cancel_at_period_end", "set_subscription_payment_method",
    "subscription_from_event", "subscription_invoices", "void_invoice",
]
