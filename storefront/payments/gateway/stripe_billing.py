"""Stripe Billing: customers, products, monthly prices, invoices and subscriptions."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import stripe

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
