"""POST /api/finances/webhooks/stripe/ — Stripe's way in. Plain-text replies.

2xx only after the event and its effects are committed; 4xx for a bad signature or body
(nothing written); 5xx when Stripe should retry (database trouble, a purchase not visible yet).
"""

from __future__ import annotations

import logging

from flask import Blueprint, request
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from storefront.extensions import csrf, db, limiter
from storefront.payments import gateway
from storefront.payments.errors import PaymentError
from storefront.purchases import PurchaseNotVisibleYet
from storefront.web import limit_body
from storefront.webhooks.handlers import (
    EventRefused,
    already_received,
    record_and_apply,
    record_refused,
)

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)
bp.before_request(limit_body)


def _text(body: str, status: int):
    return body, status, {"Content-Type": "text/plain; charset=utf-8"}


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge):
    """Stripe's events are a few kilobytes; a larger body is refused unread."""
    return _text("Request body too large.", 413)


@bp.post("/api/finances/webhooks/stripe/")
@csrf.exempt
@limiter.exempt
def stripe_webhook():
    """Verify, record and apply one Stripe event."""
    payload = request.get_data(cache=False)
    try:
        event = gateway.construct_event(payload, request.headers.get("Stripe-Signature"))
    except gateway.WebhookSignatureError as error:
        log.warning("webhook refused: %s", error)
        return _text(f"Invalid webhook: {error}.", 400)

    try:
        try:
            if not record_and_apply(event, payload):
                db.session.rollback()
                return _text("Duplicate event; already processed.", 200)
        except EventRefused as refusal:
            # Nothing of it is kept but the event itself, marked failed.
            db.session.rollback()
            record_refused(event, payload, refusal.detail)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if already_received(event.id):
            return _text("Duplicate event; already processed.", 200)
        log.exception("webhook %s: integrity error", event.id)
        return _text("Could not record the event; please retry.", 500)
    except PaymentError as error:
        db.session.rollback()
        log.warning("webhook %s: Stripe call failed (%s); asking Stripe to retry",
                    event.id, error.error_type)
        return _text("Payment service unavailable; please retry.", 503)
    except PurchaseNotVisibleYet:
        db.session.rollback()
        log.warning("webhook %s: purchase for %s not visible yet; asking Stripe to retry",
                    event.id, event.object.get("id"))
        return _text("Purchase not found yet; please retry.", 503)
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("webhook %s: database error", event.id)
        return _text("Database unavailable; please retry.", 503)
    return _text("OK", 200)
