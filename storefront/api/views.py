"""JSON endpoints: pricing plans, purchase initiate, Stripe config.

Authentication is the page session. A logged-in POST needs the CSRF token; an anonymous
POST must be JSON (415 otherwise), which a cross-site form cannot send.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.resources import files

from flask import Blueprint, abort, current_app, jsonify, request
from flask_login import current_user, login_required

from storefront.api.payloads import parse_initiate
from storefront.catalog.caching import cached_answer, catalog_etag
from storefront.catalog.services import plan_listing
from storefront.checkout.access import checkout_starter
from storefront.checkout.cooldown import refuse_during_decline_cooldown
from storefront.clients import client_address
from storefront.errors import StorefrontError
from storefront.extensions import csrf, db
from storefront.formatting import amount_text, hours_text, price_per_hour_minor
from storefront.models import Purchase
from storefront.money import BASE_CURRENCY
from storefront.payments.errors import PaymentError
from storefront.purchases import initiate_purchase
from storefront.ratelimits import initiate_limits
from storefront.web import limit_body

log = logging.getLogger(__name__)

PREFIX = "/api/finances/api"


def check_post_origin() -> None:
    """CSRF for logged-in sessions; JSON-only for anonymous callers."""
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    if current_user.is_authenticated:
        csrf.protect()
    elif not request.is_json:
        abort(415)


def api_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint of the JSON API: under its prefix, bodies bounded, POSTs checked."""
    blueprint = Blueprint(name, import_name, url_prefix=PREFIX)
    csrf.exempt(blueprint)
    blueprint.before_request(limit_body)  # before anything reads the body
    blueprint.before_request(check_post_origin)
    return blueprint


bp = api_blueprint("api", __name__)


@cache
def openapi_document() -> bytes:
    """The OpenAPI 3.1 document of this API (package data beside this module)."""
    return files("storefront.api").joinpath("openapi.json").read_bytes()


@bp.get("/schema/")
def schema():
    """The OpenAPI 3.1 document, for clients and for fuzzing the API against its contract."""
    return current_app.response_class(openapi_document(), mimetype="application/json")


@bp.get("/pricing-plans/")
def pricing_plans():
    """Active plans, ordered by display order, then name; 304 when the client's copy is
    current (the same answer for everyone)."""
    listing = plan_listing()
    return cached_answer(
        catalog_etag("json", listing.version), "application/json",
        lambda: current_app.json.dumps([plan.to_json() for plan in listing.plans]) + "\n")


def _plan_details(purchase: Purchase) -> dict:
    """The plan as this purchase priced it (its snapshot), in the pricing-plan format: the
    price and price per hour in the purchase's currency; price_eur the euro price (the
    plan's own when the purchase is in another currency)."""
    code = purchase.currency
    euros = purchase.price_minor if code == BASE_CURRENCY else purchase.plan.price_minor
    return {
        "id": purchase.plan_id,
        "name": purchase.plan_name,
        "description": purchase.plan.description,
        "plan_type": purchase.plan_type,
        "hours_included": hours_text(purchase.minutes),
        "price_eur": amount_text(euros),
        "price": amount_text(purchase.price_minor, code),
        "currency": code,
        "validity_days": purchase.validity_days,
        "price_per_hour": amount_text(
            price_per_hour_minor(purchase.price_minor, purchase.minutes), code),
    }


@bp.post("/purchase/initiate/")
@initiate_limits
@refuse_during_decline_cooldown
def purchase_initiate():
    """Start (or reuse) a pending purchase and its PaymentIntent."""
    try:
        payload = parse_initiate(request.get_json(silent=True))
        started = initiate_purchase(
            plan_id=payload.plan_id, name=payload.name, email=payload.email,
            acting_user=current_user, started_by=checkout_starter(), client_ip=client_address(),
            currency=payload.currency,
        )
        db.session.commit()
    except StorefrontError as error:
        db.session.rollback()
        return jsonify(error.to_json()), error.status
    except Exception:
        db.session.rollback()
        log.exception("purchase initiate failed")
        error = PaymentError("internal_error")
        return jsonify(error.to_json()), error.status

    purchase = started.purchase
    answer = {
        "success": True,
        "client_secret": started.client_secret,
        "transaction_id": purchase.id,
        "payment_intent_id": purchase.payment_intent_id,
        "plan_details": _plan_details(purchase),
        "message": (
            "Your pending purchase is ready for payment." if started.reused
            else "Purchase created. Complete the payment to receive your hours."
        ),
    }
    if started.subscription_id is not None:
        answer["subscription_id"] = started.subscription_id
    return jsonify(answer), 201


@bp.get("/stripe/config/")
@login_required
def stripe_config():
    """The publishable key, for clients that mount the Payment Element themselves."""
    return jsonify({"success": True, "public_key": current_app.config["STRIPE_PUBLISHABLE_KEY"]})
