"""PaymentIntents, charges, refunds and disputes at Stripe."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import stripe
from flask import current_app

from storefront.payments.gateway.client import (
    StripeEvent,
    id_of,
    mapped_errors,
    request_id_of,
    stripe_client,
)

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
        declined_charge_id=id_of(last_error.get("charge")),
        declined_payment_method_id=id_of(method),
        declined_payment_method_created=(
            int(method["created"]) if isinstance(method, Mapping) and method.get("created")
            else None),
    )


def create_payment_intent(
    *, amount: int, currency: str, metadata: dict[str, str], idempotency_key: str,
    description: str, receipt_email: str | None = None,
) -> PaymentIntentInfo:
    """Create a PaymentIntent for an amount taken from our database."""
    params: dict[str, Any] = {"amount": amount, "currency": currency, "metadata": metadata}
    methods = current_app.config.get("STRIPE_PAYMENT_METHOD_TYPES")
    if methods:
        params["payment_method_types"] = list(methods)
    else:  # what the business enabled in its Stripe dashboard for this currency
        params["automatic_payment_methods"] = {"enabled": True}
    if not current_app.config.get("STRIPE_API_BASE"):
        # The emulator rejects parameters it does not know; Stripe shows these to the payer.
        params["description"] = description
        if receipt_email:
            params["receipt_email"] = receipt_email
    with mapped_errors("payment_intents.create"):
        intent = stripe_client().v1.payment_intents.create(
            params=params, options={"idempotency_key": idempotency_key}
        )
    log.info("created payment intent %s (request_id=%s, metadata=%s)",
             intent.id, request_id_of(intent), metadata)
    return _info(intent)


def retrieve_payment_intent(payment_intent_id: str) -> PaymentIntentInfo:
    """Read a PaymentIntent's current state from Stripe."""
    with mapped_errors("payment_intents.retrieve"):
        intent = stripe_client().v1.payment_intents.retrieve(payment_intent_id)
    return _info(intent)


def confirm_with_test_card(payment_intent_id: str, payment_method: str) -> PaymentIntentInfo:
    """Emulator only: attach a test payment method and confirm, as Stripe.js would."""
    if not current_app.config.get("STRIPE_API_BASE"):
        raise RuntimeError("test-card confirmation exists only against the Stripe emulator")
    client = stripe_client()
    with mapped_errors("payment_intents.confirm"):
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
    with mapped_errors("payment_intents.cancel"):
        intent = stripe_client().v1.payment_intents.cancel(
            payment_intent_id, params=params, options={"idempotency_key": idempotency_key})
    log.info("cancelled payment intent %s (%s, request_id=%s)", intent.id, reason,
             request_id_of(intent))
    return _info(intent)


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


def charge_of_payment_intent(payment_intent_id: str) -> ChargeInfo | None:
    """The PaymentIntent's latest charge (amount refunded so far), if it was charged."""
    client = stripe_client()
    with mapped_errors("charges.retrieve"):
        intent = client.v1.payment_intents.retrieve(payment_intent_id).to_dict()
        charge_id = id_of(intent.get("latest_charge"))
        return _charge(client.v1.charges.retrieve(charge_id)) if charge_id else None


def create_refund(*, payment_intent_id: str, amount: int, idempotency_key: str,
                  reason: str | None = None) -> str:
    """Ask Stripe to refund part or all of a payment; returns the refund id."""
    params: dict[str, Any] = {"payment_intent": payment_intent_id, "amount": amount}
    if reason and not current_app.config.get("STRIPE_API_BASE"):
        params["metadata"] = {"reason": reason[:500]}
    with mapped_errors("refunds.create"):
        refund = stripe_client().v1.refunds.create(
            params=params, options={"idempotency_key": idempotency_key})
    log.info("refund %s of %d for %s (request_id=%s)", refund.id, amount, payment_intent_id,
             request_id_of(refund))
    return refund.id


def charge_from_event(event: StripeEvent) -> ChargeInfo:
    return _charge(event.object)


def dispute_from_event(event: StripeEvent) -> DisputeInfo:
    obj = event.object
    return DisputeInfo(
        id=obj["id"], charge_id=id_of(obj.get("charge")),
        payment_intent_id=id_of(obj.get("payment_intent")), status=str(obj.get("status")),
        amount=int(obj.get("amount") or 0),
    )


def payment_intent_of_charge(charge_id: str) -> str | None:
    with mapped_errors("charges.retrieve"):
        return _charge(stripe_client().v1.charges.retrieve(charge_id)).payment_intent_id


def recent_payment_intents(since: datetime) -> Iterator[PaymentIntentInfo]:
    """PaymentIntents created since `since`, newest first, across pages."""
    params: dict[str, Any] = {"limit": 100}
    emulator = bool(current_app.config.get("STRIPE_API_BASE"))
    if not emulator:  # the emulator filters nothing server-side
        params["created"] = {"gte": int(since.timestamp())}
    with mapped_errors("payment_intents.list"):
        page = stripe_client().v1.payment_intents.list(params=params)
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
    with mapped_errors("refunds.list"):
        for refund in stripe_client().v1.refunds.list(params=params).auto_paging_iter():
            info = refund.to_dict()
            if int(info.get("created") or 0) < int(since.timestamp()):
                continue
            intent = id_of(info.get("payment_intent"))
            if intent is None and info.get("charge"):
                intent = payment_intent_of_charge(id_of(info["charge"]))
            if intent:
                found.add(intent)
    return found
