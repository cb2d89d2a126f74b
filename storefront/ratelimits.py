"""Rate limits on starting a purchase: per client IP for anonymous callers and per email
for everyone, shared by the checkout page and the JSON API."""

from __future__ import annotations

from flask import current_app, request
from flask_limiter.util import get_remote_address
from flask_login import current_user

from storefront.extensions import limiter


def _initiate_email_key() -> str:
    """The lower-cased email the purchase is for (JSON body, form, or the logged-in user)."""
    email = None
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict) and isinstance(body.get("student_info"), dict):
        email = body["student_info"].get("email")
    elif request.form.get("email"):
        email = request.form["email"]
    elif current_user.is_authenticated:
        email = current_user.email
    if isinstance(email, str) and email.strip():
        return "email:" + email.strip().lower()
    return "ip:" + get_remote_address()


def _logged_in() -> bool:
    return bool(current_user.is_authenticated)


_per_ip = limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_INITIATE_IP"],
    scope="initiate-ip",
    methods=["POST"],
    exempt_when=_logged_in,
)
_per_email = limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_INITIATE_EMAIL"],
    scope="initiate-email",
    key_func=_initiate_email_key,
    methods=["POST"],
)


def initiate_limits(view):
    """Apply both purchase-initiation limits to a view."""
    return _per_ip(_per_email(view))
