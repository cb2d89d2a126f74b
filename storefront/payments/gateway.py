"""The only module that talks to Stripe.

A client is built from the app's config at call time (keys, API base, pinned version,
timeouts, network retries). Every Stripe error leaves this module as a PaymentError, and
Stripe objects leave it as plain dataclasses, so the rest of the code never sees `stripe`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import stripe
from flask import current_app

from storefront.payments import billing
from storefront.payments.billing import InvoiceInfo, SubscriptionInfo
from storefront.payments.errors import PaymentError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaymentIntentInfo:
    """What the storefront needs to know about a Stripe PaymentIntent."""

    id: str
    status: str
    amount: int
    currency: str
    client_secret: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    error_code: str | None = None
    error_message: str | None = None
    # The last attempt's decline: Stripe's decline_code, the charge that was declined and the
    # payment method tried (with its creation time), which tell one attempt from another.
    decline_code: str | None = None
    declined_charge_id: str | None = None
    declined_payment_method_id: str | None = None
    declined_payment_method_created: int | None = None

    @property
    def purchase_id(self) -> int | None:
        """Our purchase id from the metadata, or None for a PaymentIntent that is not ours."""
        value = self.metadata.get("purchase_id", "")
        return int(value) if value.isdigit() else None


@dataclass(frozen=True)
class StripeEvent:
    """A verified webhook event."""

    id: str
    type: str
    object: Mapping[str, Any]
    created: int


class WebhookSignatureError(Exception):
    """The webhook's Stripe-Signature is missing, wrong or stale, or the body is not an event."""


_ERROR_TYPES: list[tuple[type[stripe.StripeError], str]] = [
    (stripe.CardError, "card_error"),
    (stripe.InvalidRequestError, "invalid_request_error"),
    (stripe.AuthenticationError, "authentication_error"),
    (stripe.PermissionError, "authentication_error"),
    (stripe.RateLimitError, "rate_limit_error"),
    (stripe.APIConnectionError, "api_connection_error"),
    (stripe.APIError, "api_error"),
]


def _client() -> stripe.StripeClient:
    config = current_app.config
    base = config.get("STRIPE_API_BASE")
    return stripe.StripeClient(
        config["STRIPE_SECRET_KEY"],
        stripe_version=config["STRIPE_API_VERSION"],
        base_addresses={"api": base} if base else {},
        max_network_retries=config["STRIPE_MAX_NETWORK_RETRIES"],
        http_client=stripe.RequestsClient(timeout=config["STRIPE_TIMEOUT_SECONDS"]),
    )


@contextmanager
def _mapped_errors(action: str) -> Iterator[None]:
    """Turn any Stripe error into a PaymentError, logging Stripe's request id, never the key."""
    try:
        yield
    except stripe.StripeError as error:
        error_type = next(
            (name for cls, name in _ERROR_TYPES if isinstance(error, cls)), "api_error"
        )
        log.warning(
            "stripe %s failed: %s (status=%s, request_id=%s, code=%s)",
            action, type(error).__name__, error.http_status, error.request_id, error.code,
        )
        message = error.user_message if error_type == "card_error" else None
        details = (error.json_body or {}).get("error") or {}
        raise PaymentError(error_type, message, code=error.code,
                           decline_code=details.get("decline_code")) from error


def _info(obj: Mapping[str, Any] | stripe.StripeObject) -> PaymentIntentInfo:
    if isinstance(obj, stripe.StripeObject):
        obj = obj.to_dict()
    last_error = obj.get("last_payment_error") or {}
    method = last_error.get("payment_method")
    return PaymentIntentInfo(
        id=obj["id"],
        status=obj["status"],
        amount=int(obj["amount"]),
        currency=str(obj["currency"]).lower(),
        client_secret=obj.get("client_secret"),
        metadata={str(k): str(v) for k, v in (obj.get("metadata") or {}).items()},
        error_code=last_error.get("decline_code") or last_error.get("code"),
        error_message=last_error.get("message"),
        decline_code=last_error.get("decline_code"),
        declined_charge_id=_id_of(last_error.get("charge")),
        declined_payment_method_id=_id_of(method),
        declined_payment_method_created=(
            int(method["created"]) if isinstance(method, Mapping) and method.get("created")
            else None),
    )


def _request_id(obj: stripe.StripeObject) -> str | None:
    return obj.last_response.request_id if obj.last_response else None


def create_payment_intent(
    *, amount: int, currency: str, metadata: dict[str, str], idempotency_key: str,
    description: str, receipt_email: str | None = None,
) -> PaymentIntentInfo:
    """Create a PaymentIntent for an amount taken from our database."""
    params: dict[str, Any] = {
        "amount": amount,
        "currency": currency,
        "metadata": metadata,
        "payment_method_types": current_app.config.get("STRIPE_PAYMENT_METHOD_TYPES", ["card"]),
    }
    if not current_app.config.get("STRIPE_API_BASE"):
        # The emulator rejects parameters it does not know; Stripe shows these to the payer.
        params["description"] = description
        if receipt_email:
            params["receipt_email"] = receipt_email
    with _mapped_errors("payment_intents.create"):
        intent = _client().v1.payment_intents.create(
            params=params, options={"idempotency_key": idempotency_key}
        )
    log.info("created payment intent %s (request_id=%s, metadata=%s)",
             intent.id, _request_id(intent), metadata)
    return _info(intent)


def retrieve_payment_intent(payment_intent_id: str) -> PaymentIntentInfo:
    """Read a PaymentIntent's current state from Stripe."""
    with _mapped_errors("payment_intents.retrieve"):
        intent = _client().v1.payment_intents.retrieve(payment_intent_id)
    return _info(intent)


def confirm_with_test_card(payment_intent_id: str, payment_method: str) -> PaymentIntentInfo:
    """Emulator only: attach a test payment method and confirm, as Stripe.js would."""
    if not current_app.config.get("STRIPE_API_BASE"):
        raise RuntimeError("test-card confirmation exists only against the Stripe emulator")
    client = _client()
    with _mapped_errors("payment_intents.confirm"):
        client.v1.payment_intents.update(
            payment_intent_id, params={"payment_method": payment_method}
        )
        intent = client.v1.payment_intents.confirm(payment_intent_id)
    return _info(intent)


def cancel_payment_intent(payment_intent_id: str, *, idempotency_key: str,
                          reason: str = "fraudulent") -> PaymentIntentInfo:
    """Cancel a PaymentIntent at Stripe, so that nobody can confirm it any more."""
    params: dict[str, Any] = {}
    if not current_app.config.get("STRIPE_API_BASE"):  # the emulator takes no reason
        params["cancellation_reason"] = reason
    with _mapped_errors("payment_intents.cancel"):
        intent = _client().v1.payment_intents.cancel(
            payment_intent_id, params=params, options={"idempotency_key": idempotency_key})
    log.info("cancelled payment intent %s (%s, request_id=%s)", intent.id, reason,
             _request_id(intent))
    return _info(intent)


def construct_event(payload: bytes, signature: str | None) -> StripeEvent:
    """Verify the signature over the raw body and return the event it carries."""
    if not signature:
        raise WebhookSignatureError("missing Stripe-Signature header")
    config = current_app.config
    try:
        event = stripe.Webhook.construct_event(
            payload.decode("utf-8"), signature, config["STRIPE_WEBHOOK_SECRET"],
            tolerance=config["STRIPE_WEBHOOK_TOLERANCE_SECONDS"],
        )
        data = event.to_dict()
        return StripeEvent(
            id=str(data["id"]), type=str(data["type"]),
            object=data["data"]["object"], created=int(data.get("created") or 0),
        )
    except stripe.SignatureVerificationError as error:
        raise WebhookSignatureError("bad or stale signature") from error
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise WebhookSignatureError("payload is not a Stripe event") from error


def payment_intent_from_event(event: StripeEvent) -> PaymentIntentInfo:
    """The PaymentIntent carried by a payment_intent.* event."""
    return _info(event.object)


@dataclass(frozen=True)
class ChargeInfo:
    id: str
    payment_intent_id: str | None
    amount: int
    amount_refunded: int
    currency: str
    created: datetime | None = None


@dataclass(frozen=True)
class DisputeInfo:
    id: str
    charge_id: str | None
    payment_intent_id: str | None
    status: str
    amount: int


def _charge(obj: Mapping[str, Any] | stripe.StripeObject) -> ChargeInfo:
    if isinstance(obj, stripe.StripeObject):
        obj = obj.to_dict()
    return ChargeInfo(
        id=obj["id"], payment_intent_id=obj.get("payment_intent"), amount=int(obj["amount"]),
        amount_refunded=int(obj.get("amount_refunded") or 0),
        currency=str(obj["currency"]).lower(),
        created=datetime.fromtimestamp(int(obj["created"]), UTC) if obj.get("created") else None,
    )


def _id_of(value: Any) -> str | None:
    """An id whether Stripe sent the id or the expanded object."""
    if value is None or isinstance(value, str):
        return value
    return value["id"]


def charge_of_payment_intent(payment_intent_id: str) -> ChargeInfo | None:
    """The PaymentIntent's latest charge (amount refunded so far), if it was charged."""
    client = _client()
    with _mapped_errors("charges.retrieve"):
        intent = client.v1.payment_intents.retrieve(payment_intent_id).to_dict()
        charge_id = _id_of(intent.get("latest_charge"))
        return _charge(client.v1.charges.retrieve(charge_id)) if charge_id else None


def create_refund(*, payment_intent_id: str, amount: int, idempotency_key: str,
                  reason: str | None = None) -> str:
    """Ask Stripe to refund part or all of a payment; returns the refund id."""
    params: dict[str, Any] = {"payment_intent": payment_intent_id, "amount": amount}
    if reason and not current_app.config.get("STRIPE_API_BASE"):
        params["metadata"] = {"reason": reason[:500]}
    with _mapped_errors("refunds.create"):
        refund = _client().v1.refunds.create(
            params=params, options={"idempotency_key": idempotency_key})
    log.info("refund %s of %d for %s (request_id=%s)", refund.id, amount, payment_intent_id,
             _request_id(refund))
    return refund.id


def charge_from_event(event: StripeEvent) -> ChargeInfo:
    return _charge(event.object)


def dispute_from_event(event: StripeEvent) -> DisputeInfo:
    obj = event.object
    return DisputeInfo(
        id=obj["id"], charge_id=_id_of(obj.get("charge")),
        payment_intent_id=_id_of(obj.get("payment_intent")), status=str(obj.get("status")),
        amount=int(obj.get("amount") or 0),
    )


def payment_intent_of_charge(charge_id: str) -> str | None:
    with _mapped_errors("charges.retrieve"):
        return _charge(_client().v1.charges.retrieve(charge_id)).payment_intent_id


def recent_payment_intents(since: datetime) -> Iterator[PaymentIntentInfo]:
    """PaymentIntents created since `since`, newest first, across pages."""
    params: dict[str, Any] = {"limit": 100}
    emulator = bool(current_app.config.get("STRIPE_API_BASE"))
    if not emulator:  # the emulator filters nothing server-side
        params["created"] = {"gte": int(since.timestamp())}
    with _mapped_errors("payment_intents.list"):
        page = _client().v1.payment_intents.list(params=params)
        for intent in page.auto_paging_iter():
            info = intent.to_dict()
            if int(info.get("created") or 0) >= int(since.timestamp()):
                yield _info(info)


def recent_refunded_payment_intents(since: datetime) -> set[str]:
    """PaymentIntents that had a refund created since `since` (whenever they were paid)."""
    params: dict[str, Any] = {"limit": 100}
    if not current_app.config.get("STRIPE_API_BASE"):
        params["created"] = {"gte": int(since.timestamp())}
    found = set()
    with _mapped_errors("refunds.list"):
        for refund in _client().v1.refunds.list(params=params).auto_paging_iter():
            info = refund.to_dict()
            if int(info.get("created") or 0) < int(since.timestamp()):
                continue
            intent = _id_of(info.get("payment_intent"))
            if intent is None and info.get("charge"):
                intent = payment_intent_of_charge(_id_of(info["charge"]))
            if intent:
                found.add(intent)
    return found


# --- Stripe Billing: customers, products and monthly prices ----------------------------------

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
        id=obj["id"], product_id=str(_id_of(obj.get("product"))),
        unit_amount=int(obj.get("unit_amount") or 0), currency=str(obj["currency"]).lower(),
        active=bool(obj.get("active")), interval=recurring.get("interval"),
    )


def ensure_customer(*, email: str, name: str, metadata: dict[str, str],
                    idempotency_key: str) -> str:
    """Create the Stripe Customer of one of our users; returns its id."""
    with _mapped_errors("customers.create"):
        customer = _client().v1.customers.create(
            params={"email": email, "name": name, "metadata": metadata},
            options={"idempotency_key": idempotency_key})
    log.info("created customer %s (request_id=%s, metadata=%s)", customer.id,
             _request_id(customer), metadata)
    return customer.id


def create_product(*, name: str, metadata: dict[str, str], idempotency_key: str) -> str:
    """Create the Stripe Product standing for a subscription plan; returns its id."""
    with _mapped_errors("products.create"):
        product = _client().v1.products.create(
            params={"name": name, "metadata": metadata},
            options={"idempotency_key": idempotency_key})
    log.info("created product %s (request_id=%s)", product.id, _request_id(product))
    return product.id


def product_exists(product_id: str) -> bool:
    """Whether Stripe (still) has this Product, active or archived."""
    with _mapped_errors("products.retrieve"):
        try:
            _client().v1.products.retrieve(product_id)
        except stripe.InvalidRequestError as error:
            if error.code == "resource_missing" or error.http_status == 404:
                return False
            raise
    return True


def create_monthly_price(*, product_id: str, unit_amount: int, currency: str,
                         metadata: dict[str, str], idempotency_key: str) -> PriceInfo:
    """Create a Price charging unit_amount every month for the product."""
    with _mapped_errors("prices.create"):
        price = _client().v1.prices.create(
            params={"product": product_id, "unit_amount": unit_amount, "currency": currency,
                    "recurring": {"interval": "month"}, "metadata": metadata},
            options={"idempotency_key": idempotency_key})
    log.info("created price %s of %d %s for %s (request_id=%s)", price.id, unit_amount,
             currency, product_id, _request_id(price))
    return _price(price)


def retrieve_price(price_id: str) -> PriceInfo:
    """Read a Price from Stripe."""
    with _mapped_errors("prices.retrieve"):
        return _price(_client().v1.prices.retrieve(price_id))


def find_prices(product_id: str, *, active: bool | None = True) -> list[PriceInfo]:
    """The product's Prices (only active ones by default), across pages."""
    params: dict[str, Any] = {"product": product_id, "limit": 100}
    if active is not None:
        params["active"] = active
    with _mapped_errors("prices.list"):
        page = _client().v1.prices.list(params=params)
        return [_price(price) for price in page.auto_paging_iter()]


def deactivate_price(price_id: str) -> PriceInfo:
    """Archive a Price: no new subscription can use it (existing ones keep it)."""
    with _mapped_errors("prices.update"):
        price = _client().v1.prices.update(price_id, params={"active": False})
    log.info("deactivated price %s (request_id=%s)", price_id, _request_id(price))
    return _price(price)


def invoice_payment_intent(invoice_id: str) -> str | None:
    """Ask Stripe which PaymentIntent paid the invoice (its invoice payments)."""
    with _mapped_errors("invoice_payments.list"):
        page = _client().v1.invoice_payments.list(params={"invoice": invoice_id})
        return billing.paying_intent([payment.to_dict() for payment in page.auto_paging_iter()])


def invoice_from_event(event: StripeEvent) -> InvoiceInfo:
    """The Invoice carried by an invoice.* event."""
    return billing.invoice_from_object(event.object)


def subscription_from_event(event: StripeEvent) -> SubscriptionInfo:
    """The Subscription carried by a customer.subscription.* event."""
    return billing.subscription_from_object(event.object)
