"""The Stripe client and the error mapping every call goes through.

A client is built from the app's config (keys, API base, pinned version, timeouts,
network retries) and kept for the app's later calls. Every Stripe error leaves the gateway
as a PaymentError.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import stripe
from flask import current_app

from storefront.payments.errors import PaymentError

log = logging.getLogger(__name__)


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


def stripe_client() -> stripe.StripeClient:
    """The app's Stripe client: one per app, settings and process, so that its HTTP
    connections (and their TLS handshakes with Stripe) are kept alive between requests. A
    forked worker builds its own rather than share its parent's sockets."""
    config = current_app.config
    settings = (config["STRIPE_SECRET_KEY"], config["STRIPE_API_VERSION"],
                config.get("STRIPE_API_BASE"), config["STRIPE_MAX_NETWORK_RETRIES"],
                config["STRIPE_TIMEOUT_SECONDS"], os.getpid())
    cached = current_app.extensions.get("stripe_client")
    if cached is not None and cached[0] == settings:
        return cached[1]
    secret_key, version, base, retries, timeout, _ = settings
    client = stripe.StripeClient(
        secret_key,
        stripe_version=version,
        base_addresses={"api": base} if base else {},
        max_network_retries=retries,
        # Thread-safe: requests' sessions are kept per thread.
        http_client=stripe.RequestsClient(timeout=timeout),
    )
    current_app.extensions["stripe_client"] = (settings, client)
    return client


@contextmanager
def mapped_errors(action: str) -> Iterator[None]:
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


def request_id_of(obj: stripe.StripeObject) -> str | None:
    return obj.last_response.request_id if obj.last_response else None


def id_of(value: Any) -> str | None:
    """An id whether Stripe sent the id or the expanded object."""
    if value is None or isinstance(value, str):
        return value
    return value["id"]


def construct_event(payload: bytes, signature: str | None) -> StripeEvent:
    """Verify the signature over the raw body and return the event it carries.

    The library checks the signature; the body is then read as plain JSON (building the
    library's event objects costs more than the rest of a duplicate delivery).
    """
    if not signature:
        raise WebhookSignatureError("missing Stripe-Signature header")
    config = current_app.config
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature, config["STRIPE_WEBHOOK_SECRET"],
            tolerance=config["STRIPE_WEBHOOK_TOLERANCE_SECONDS"],
        )
        data = json.loads(payload)
        obj = data["data"]["object"]
        if not isinstance(obj, Mapping):
            raise TypeError("the event's object is not an object")
        return StripeEvent(
            id=str(data["id"]), type=str(data["type"]),
            object=obj, created=int(data.get("created") or 0),
        )
    except stripe.SignatureVerificationError as error:
        raise WebhookSignatureError("bad or stale signature") from error
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise WebhookSignatureError("payload is not a Stripe event") from error
