"""Stripe Billing: customers, products, monthly prices, invoices and subscriptions."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import stripe
from flask import current_app

from storefront.payments import billing
from storefront.payments.billing import InvoiceInfo, SubscriptionInfo
from storefront.payments.errors import PaymentError
from storefront.payments.gateway.client import (
    StripeEvent,
    id_of,
    mapped_errors,
    request_id_of,
    stripe_client,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PriceInfo:
    """A Stripe Price, as far as a monthly subscription plan needs it."""

    id: str
    product_id: str
    unit_amount: int
    currency: str
    active: bool
    interval: str | None


def _price(obj: Mapping[str, Any] | stripe.StripeObject) -> PriceInfo:
    if isinstance(obj, stripe.StripeObject):
        obj = obj.to_dict()
    recurring = obj.get("recurring") or {}
    return PriceInfo(
        id=obj["id"], product_id=str(id_of(obj.get("product"))),
        unit_amount=int(obj.get("unit_amount") or 0), currency=str(obj["currency"]).lower(),
        active=bool(obj.get("active")), interval=recurring.get("interval"),
    )


def ensure_customer(*, email: str, name: str, metadata: dict[str, str],
                    idempotency_key: str) -> str:
    """Create the Stripe Customer of one of our users; returns its id."""
    with mapped_errors("customers.create"):
        customer = stripe_client().v1.customers.create(
            params={"email": email, "name": name, "metadata": metadata},
            options={"idempotency_key": idempotency_key})
    log.info("created customer %s (request_id=%s, metadata=%s)", customer.id,
             request_id_of(customer), metadata)
    return customer.id


def create_product(*, name: str, metadata: dict[str, str], idempotency_key: str) -> str:
    """Create the Stripe Product standing for a subscription plan; returns its id."""
    with mapped_errors("products.create"):
        product = stripe_client().v1.products.create(
            params={"name": name, "metadata": metadata},
            options={"idempotency_key": idempotency_key})
    log.info("created product %s (request_id=%s)", product.id, request_id_of(product))
    return product.id


def product_exists(product_id: str) -> bool:
    """Whether Stripe (still) has this Product, active or archived."""
    with mapped_errors("products.retrieve"):
        try:
            stripe_client().v1.products.retrieve(product_id)
        except stripe.InvalidRequestError as error:
            if error.code == "resource_missing" or error.http_status == 404:
                return False
            raise
    return True


def create_monthly_price(*, product_id: str, unit_amount: int, currency: str,
                         metadata: dict[str, str], idempotency_key: str) -> PriceInfo:
    """Create a Price charging unit_amount every month for the product."""
    with mapped_errors("prices.create"):
        price = stripe_client().v1.prices.create(
            params={"product": product_id, "unit_amount": unit_amount, "currency": currency,
                    "recurring": {"interval": "month"}, "metadata": metadata},
            options={"idempotency_key": idempotency_key})
    log.info("created price %s of %d %s for %s (request_id=%s)", price.id, unit_amount,
             currency, product_id, request_id_of(price))
    return _price(price)


def retrieve_price(price_id: str) -> PriceInfo:
    """Read a Price from Stripe."""
    with mapped_errors("prices.retrieve"):
        return _price(stripe_client().v1.prices.retrieve(price_id))


def find_prices(product_id: str, *, active: bool | None = True) -> list[PriceInfo]:
    """The product's Prices (only active ones by default), across pages."""
    params: dict[str, Any] = {"product": product_id, "limit": 100}
    if active is not None:
        params["active"] = active
    with mapped_errors("prices.list"):
        page = stripe_client().v1.prices.list(params=params)
        return [_price(price) for price in page.auto_paging_iter()]


def deactivate_price(price_id: str) -> PriceInfo:
    """Archive a Price: no new subscription can use it (existing ones keep it)."""
    with mapped_errors("prices.update"):
        price = stripe_client().v1.prices.update(price_id, params={"active": False})
    log.info("deactivated price %s (request_id=%s)", price_id, request_id_of(price))
    return _price(price)


def invoice_payment_intent(invoice_id: str) -> str | None:
    """Ask Stripe which PaymentIntent paid the invoice (its invoice payments)."""
    with mapped_errors("invoice_payments.list"):
        page = stripe_client().v1.invoice_payments.list(params={"invoice": invoice_id})
        return billing.paying_intent([payment.to_dict() for payment in page.auto_paging_iter()])


def invoice_from_event(event: StripeEvent) -> InvoiceInfo:
    """The Invoice carried by an invoice.* event."""
    return billing.invoice_from_object(event.object)


def subscription_from_event(event: StripeEvent) -> SubscriptionInfo:
    """The Subscription carried by a customer.subscription.* event."""
    return billing.subscription_from_object(event.object)


@dataclass(frozen=True)
class SubscriptionSnapshot:
    """A Subscription as a Stripe call returned it, and when by Stripe's clock (the response's
    Date header, Unix seconds): the same clock as its events' `created`."""

    subscription: SubscriptionInfo
    stripe_time: int


@dataclass(frozen=True)
class SetupIntentInfo:
    """A SetupIntent: saving a card for later payments."""

    id: str
    status: str
    client_secret: str | None
    customer_id: str | None
    payment_method_id: str | None
    metadata: dict[str, str]


def _stripe_time(obj: stripe.StripeObject) -> int:
    """When Stripe answered, by its own clock; ours if it sent no Date."""
    headers = obj.last_response.headers if obj.last_response else {}
    date = next((value for key, value in headers.items() if key.lower() == "date"), None)
    try:
        return int(parsedate_to_datetime(date).timestamp()) if date else int(time.time())
    except (TypeError, ValueError):
        return int(time.time())


def _snapshot(obj: stripe.StripeObject) -> SubscriptionSnapshot:
    return SubscriptionSnapshot(billing.subscription_from_object(obj.to_dict()),
                                _stripe_time(obj))


def _setup_intent(obj: stripe.StripeObject) -> SetupIntentInfo:
    data = obj.to_dict()
    return SetupIntentInfo(
        id=data["id"], status=str(data["status"]), client_secret=data.get("client_secret"),
        customer_id=id_of(data.get("customer")),
        payment_method_id=id_of(data.get("payment_method")),
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()})


def retrieve_subscription(subscription_id: str) -> SubscriptionSnapshot:
    """Read a Subscription from Stripe."""
    with mapped_errors("subscriptions.retrieve"):
        return _snapshot(stripe_client().v1.subscriptions.retrieve(subscription_id))


def _update_subscription(subscription_id: str, params: dict[str, Any],
                         idempotency_key: str) -> SubscriptionSnapshot:
    with mapped_errors("subscriptions.update"):
        subscription = stripe_client().v1.subscriptions.update(
            subscription_id, params=params, options={"idempotency_key": idempotency_key})
    log.info("updated subscription %s: %s (request_id=%s)", subscription_id, sorted(params),
             request_id_of(subscription))
    return _snapshot(subscription)


def set_cancel_at_period_end(subscription_id: str, cancel: bool, *,
                             idempotency_key: str) -> SubscriptionSnapshot:
    """Cancel the subscription when its period ends (True), or undo that (False)."""
    return _update_subscription(subscription_id, {"cancel_at_period_end": cancel},
                                idempotency_key)


def change_subscription_price(subscription_id: str, item_id: str, price_id: str, *,
                              idempotency_key: str) -> SubscriptionSnapshot:
    """Bill the subscription's item at another Price from the next period (no proration)."""
    return _update_subscription(subscription_id, {
        "items": [{"id": item_id, "price": price_id}], "proration_behavior": "none",
    }, idempotency_key)


def set_subscription_payment_method(subscription_id: str, payment_method_id: str, *,
                                    idempotency_key: str) -> SubscriptionSnapshot:
    """Charge the subscription's invoices to this saved card from now on."""
    return _update_subscription(subscription_id, {"default_payment_method": payment_method_id},
                                idempotency_key)


def create_setup_intent(customer_id: str, *, metadata: dict[str, str],
                        idempotency_key: str) -> SetupIntentInfo:
    """A SetupIntent saving a card of the customer for payments made without them."""
    with mapped_errors("setup_intents.create"):
        intent = stripe_client().v1.setup_intents.create(
            params={"customer": customer_id, "usage": "off_session",
                    "payment_method_types": ["card"], "metadata": metadata},
            options={"idempotency_key": idempotency_key})
    log.info("created setup intent %s for %s (request_id=%s)", intent.id, customer_id,
             request_id_of(intent))
    return _setup_intent(intent)


def retrieve_setup_intent(setup_intent_id: str) -> SetupIntentInfo:
    """Read a SetupIntent from Stripe."""
    with mapped_errors("setup_intents.retrieve"):
        return _setup_intent(stripe_client().v1.setup_intents.retrieve(setup_intent_id))


def pay_invoice(invoice_id: str, *, idempotency_key: str) -> tuple[InvoiceInfo, int]:
    """Ask Stripe to pay an open invoice now (with the subscription's default card); the
    invoice as Stripe returned it and when, by Stripe's clock."""
    with mapped_errors("invoices.pay"):
        invoice = stripe_client().v1.invoices.pay(
            invoice_id, options={"idempotency_key": idempotency_key})
    log.info("paid invoice %s: %s (request_id=%s)", invoice_id, invoice.status,
             request_id_of(invoice))
    return billing.invoice_from_object(invoice.to_dict()), _stripe_time(invoice)


def confirm_setup_with_test_card(setup_intent_id: str, payment_method: str) -> SetupIntentInfo:
    """Emulator only: confirm a SetupIntent with a test payment method, as Stripe.js would."""
    if not current_app.config.get("STRIPE_API_BASE"):
        raise RuntimeError("test-card confirmation exists only against the Stripe emulator")
    with mapped_errors("setup_intents.confirm"):
        intent = stripe_client().v1.setup_intents.confirm(
            setup_intent_id, params={"payment_method": payment_method})
    return _setup_intent(intent)


@dataclass(frozen=True)
class StartedSubscription:
    """A Subscription just created to wait for its first payment on our page."""

    id: str
    status: str
    invoice: InvoiceInfo
    client_secret: str | None


def create_subscription(*, customer_id: str, price_id: str, metadata: dict[str, str],
                        idempotency_key: str) -> StartedSubscription:
    """Create a monthly Subscription whose first invoice waits for the payer: its
    PaymentIntent's client secret is what the Payment Element confirms."""
    params: dict[str, Any] = {
        "customer": customer_id, "items": [{"price": price_id}],
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "metadata": metadata,
        "expand": ["latest_invoice.confirmation_secret", "latest_invoice.payments"],
    }
    with mapped_errors("subscriptions.create"):
        subscription = stripe_client().v1.subscriptions.create(
            params=params, options={"idempotency_key": idempotency_key})
    obj = subscription.to_dict()
    invoice = obj.get("latest_invoice")
    if not isinstance(invoice, Mapping):
        raise PaymentError("api_error")
    secret = (invoice.get("confirmation_secret") or {}).get("client_secret")
    log.info("created subscription %s (%s, invoice %s, request_id=%s, metadata=%s)",
             subscription.id, obj.get("status"), invoice.get("id"),
             request_id_of(subscription), metadata)
    return StartedSubscription(id=subscription.id, status=str(obj.get("status")),
                               invoice=billing.invoice_from_object(invoice),
                               client_secret=secret)


def retrieve_invoice(invoice_id: str) -> InvoiceInfo:
    """Read an Invoice from Stripe, with the payments that paid it."""
    with mapped_errors("invoices.retrieve"):
        invoice = stripe_client().v1.invoices.retrieve(
            invoice_id, params={"expand": ["payments"]})
    return billing.invoice_from_object(invoice.to_dict())


def cancel_subscription(subscription_id: str, *, idempotency_key: str) -> SubscriptionInfo:
    """Cancel a Subscription at Stripe now (DELETE /v1/subscriptions/{id})."""
    with mapped_errors("subscriptions.cancel"):
        subscription = stripe_client().v1.subscriptions.cancel(
            subscription_id, options={"idempotency_key": idempotency_key})
    log.info("cancelled subscription %s (request_id=%s)", subscription_id,
             request_id_of(subscription))
    return billing.subscription_from_object(subscription.to_dict())


def void_invoice(invoice_id: str, *, idempotency_key: str) -> str:
    """Void an open Invoice, which cancels its PaymentIntent; returns the invoice's status."""
    with mapped_errors("invoices.void_invoice"):
        invoice = stripe_client().v1.invoices.void_invoice(
            invoice_id, options={"idempotency_key": idempotency_key})
    log.info("voided invoice %s (request_id=%s)", invoice_id, request_id_of(invoice))
    return str(invoice.status)


def subscription_invoices(subscription_id: str, *, limit: int = 24) -> list[InvoiceInfo]:
    """The subscription's latest invoices at Stripe, newest first."""
    with mapped_errors("invoices.list"):
        page = stripe_client().v1.invoices.list(
            params={"subscription": subscription_id, "limit": limit})
        return [billing.invoice_from_object(invoice.to_dict()) for invoice in page.data]
