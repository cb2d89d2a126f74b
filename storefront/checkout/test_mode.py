"""Emulator only: the server side of the offline Stripe.js stand-in (static/js/stripe-test-mode.js).

Real Stripe.js confirms a payment straight with Stripe; offline, the stand-in sends the test
card here and this route attaches the matching test payment method and confirms on the
emulator. Registered only when STRIPE_API_BASE points at the emulator.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, jsonify, request

from storefront.clients import client_address
from storefront.extensions import db
from storefront.payments import gateway
from storefront.payments.errors import PaymentError
from storefront.purchases.declines import (
    TooManyDeclines,
    check_purchase_not_blocked,
    record_decline,
)
from storefront.purchases.lookup import purchase_for_intent
from storefront.ratelimits import post_limit

test_mode_bp = Blueprint("test_mode", __name__, url_prefix="/checkout/test-mode")

# Stripe's documented test card numbers and the test PaymentMethods Stripe pairs them with
# (https://docs.stripe.com/testing). The emulator decides what each one does, as Stripe would.
TEST_CARDS = {
    "4242424242424242": "pm_card_visa",
    "4000000000000002": "pm_card_visa_chargeDeclined",
    "4000000000009995": "pm_card_visa_chargeDeclinedInsufficientFunds",
    "4000000000009987": "pm_card_visa_chargeDeclinedLostCard",
    "4000000000009979": "pm_card_visa_chargeDeclinedStolenCard",
    "4000000000000341": "pm_card_chargeCustomerFail",
}


def _stripe_error(error_type: str, code: str, message: str, status: int = 200, *,
                  decline_code: str | None = None):
    error = {"type": error_type, "code": code, "message": message}
    if decline_code:
        error = {"type": error_type, "code": code, "decline_code": decline_code,
                 "message": message}
    return jsonify({"error": error}), status


def _intent_for(client_secret: object) -> gateway.PaymentIntentInfo | None:
    if not isinstance(client_secret, str) or "_secret_" not in client_secret:
        return None
    intent_id = client_secret.split("_secret_", 1)[0]
    try:
        intent = gateway.retrieve_payment_intent(intent_id)
    except PaymentError:
        return None
    if not intent.client_secret or not hmac.compare_digest(intent.client_secret, client_secret):
        return None
    return intent


def _public(intent: gateway.PaymentIntentInfo) -> dict:
    return {"id": intent.id, "status": intent.status, "amount": intent.amount,
            "currency": intent.currency}


@test_mode_bp.errorhandler(429)
def too_many_confirmations(error):
    """The confirm route's own rate limit, in Stripe.js's error shape."""
    return _stripe_error("rate_limit_error", "rate_limit",
                         "Too many payment attempts. Please wait and try again.", 429)


def _refused_while_cooling_down(intent: gateway.PaymentIntentInfo):
    purchase = purchase_for_intent(intent.id)
    if purchase is None:
        return None
    try:
        check_purchase_not_blocked(purchase, attempt="confirm", ip=client_address())
    except TooManyDeclines as refusal:
        db.session.commit()  # keep the refused attempt for staff
        response, status = _stripe_error("rate_limit_error", refusal.error_type,
                                         refusal.message, 429)
        response.headers["Retry-After"] = str(refusal.retry_after)
        return response, status
    return None


def _declined(intent_id: str, error: PaymentError):
    """Report a decline as Stripe.js does, counting it against the purchase's sources."""
    record_decline(gateway.retrieve_payment_intent(intent_id), reported_by="test-mode confirm")
    db.session.commit()
    return _stripe_error("card_error", error.code or "card_declined", error.message,
                         decline_code=error.decline_code)


@test_mode_bp.post("/confirm")
@post_limit("RATELIMIT_TEST_MODE_CONFIRM", "test-mode-confirm")
def confirm():
    """Confirm a PaymentIntent with a test card; answers in Stripe.js's shapes."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _stripe_error("invalid_request_error", "parameter_missing",
                             "The request body must be a JSON object with a client_secret.", 400)
    intent = _intent_for(body.get("client_secret"))
    if intent is None:
        return _stripe_error("invalid_request_error", "resource_missing",
                             "No such payment_intent.", 404)
    if (refused := _refused_while_cooling_down(intent)) is not None:
        return refused
    number = "".join(ch for ch in str(body.get("card_number", "")) if ch.isdigit())
    payment_method = TEST_CARDS.get(number)
    if payment_method is None:
        return _stripe_error("validation_error", "incorrect_number",
                             "Your card number is incorrect.")
    try:
        confirmed = gateway.confirm_with_test_card(intent.id, payment_method)
    except PaymentError as error:
        if error.error_type == "card_error":
            return _declined(intent.id, error)
        return _stripe_error("api_error", "api_error", error.message, error.status)
    return jsonify({"paymentIntent": _public(confirmed)})


@test_mode_bp.get("/payment-intent")
def retrieve():
    """retrievePaymentIntent(clientSecret) for the stand-in."""
    intent = _intent_for(request.args.get("client_secret"))
    if intent is None:
        return _stripe_error("invalid_request_error", "resource_missing",
                             "No such payment_intent.", 404)
    return jsonify({"paymentIntent": _public(intent)})
