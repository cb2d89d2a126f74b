"""Emulator only: confirmSetup for the offline Stripe.js stand-in (static/js/stripe-test-mode.js),
used by the card-update page. Like test_mode.confirm, it maps Stripe's documented test card
numbers to Stripe's test payment methods and lets the emulator decide. Registered only when
STRIPE_API_BASE points at the emulator.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, jsonify, request
from flask_login import login_required

from storefront.checkout.test_mode import TEST_CARDS
from storefront.payments import gateway
from storefront.payments.errors import PaymentError
from storefront.ratelimits import post_limit

test_mode_setup_bp = Blueprint("test_mode_setup", __name__, url_prefix="/checkout/test-mode")


def _error(error_type: str, code: str, message: str, status: int = 200):
    return jsonify({"error": {"type": error_type, "code": code, "message": message}}), status


@test_mode_setup_bp.post("/confirm-setup")
@login_required
@post_limit("RATELIMIT_TEST_MODE_CONFIRM", "test-mode-confirm-setup")
def confirm_setup():
    """Confirm a SetupIntent with a test card; answers in Stripe.js's shapes."""
    body = request.get_json(silent=True)
    secret = body.get("client_secret") if isinstance(body, dict) else None
    if not isinstance(secret, str) or "_secret_" not in secret:
        return _error("invalid_request_error", "resource_missing", "No such setup_intent.", 404)
    try:
        intent = gateway.retrieve_setup_intent(secret.split("_secret_", 1)[0])
    except PaymentError:
        return _error("invalid_request_error", "resource_missing", "No such setup_intent.", 404)
    if not intent.client_secret or not hmac.compare_digest(intent.client_secret, secret):
        return _error("invalid_request_error", "resource_missing", "No such setup_intent.", 404)
    number = "".join(ch for ch in str(body.get("card_number", "")) if ch.isdigit())
    payment_method = TEST_CARDS.get(number)
    if payment_method is None:
        return _error("validation_error", "incorrect_number", "Your card number is incorrect.")
    try:
        confirmed = gateway.confirm_setup_with_test_card(intent.id, payment_method)
    except PaymentError as error:
        if error.error_type == "card_error":
            return _error("card_error", error.code or "card_declined", error.message)
        return _error("api_error", "api_error", error.message, error.status)
    return jsonify({"setupIntent": {"id": confirmed.id, "status": confirmed.status}})
