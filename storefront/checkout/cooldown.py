"""The web side of the card-testing defence: the 429 page or JSON error shown while a source
is cooling down after too many declines."""

from __future__ import annotations

from functools import wraps

from flask import jsonify, render_template, request

from storefront.clients import client_address
from storefront.extensions import db
from storefront.models import Purchase
from storefront.purchases.declines import (
    TooManyDeclines,
    check_not_blocked,
    check_purchase_not_blocked,
)
from storefront.ratelimits import requested_email


def cooldown_response(refusal: TooManyDeclines):
    """429 with Retry-After: the API's error shape under /api/, else a page. The refused
    attempt recorded for staff is committed."""
    db.session.commit()
    headers = {"Retry-After": str(refusal.retry_after)}
    if request.path.startswith("/api/"):
        return jsonify(refusal.to_json()), 429, headers
    return render_template("checkout/cooldown.html", message=refusal.message), 429, headers


def cooldown_for(purchase: Purchase):
    """The 429 response when this purchase, its email or the caller is cooling down."""
    try:
        check_purchase_not_blocked(purchase, attempt="pay_page", ip=client_address())
    except TooManyDeclines as refusal:
        return cooldown_response(refusal)
    return None


def refuse_during_decline_cooldown(view):
    """Refuse a POST that starts a purchase while its IP or email is cooling down."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if request.method == "POST":
            try:
                check_not_blocked(
                    attempt="start_api" if request.path.startswith("/api/") else "start_page",
                    ip=client_address(), email=requested_email())
            except TooManyDeclines as refusal:
                return cooldown_response(refusal)
        return view(*args, **kwargs)

    return wrapper
