"""Rate limits on starting a purchase: per client IP for anonymous callers (per account when
logged in) and per email for everyone, shared by the checkout page and the JSON API."""

from __future__ import annotations

from flask import current_app, request
from flask_limiter.util import get_remote_address
from flask_login import current_user

from storefront.extensions import limiter


def _initiate_email_key() -> str:
    email = requested_email()
    return "email:" + email if email else "ip:" + get_remote_address()


def requested_email() -> str | None:
    """The lower-cased email a purchase start is for: the JSON body's, else the logged-in
    user's (the page ignores a form email when logged in), else the form's."""
    email = None
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict) and isinstance(body.get("student_info"), dict):
        email = body["student_info"].get("email")
    elif current_user.is_authenticated:
        email = current_user.email
    else:
        email = request.form.get("email")
    if isinstance(email, str) and email.strip():
        return email.strip().lower()
    return None


def _client_key() -> str:
    """Anonymous callers by IP; logged-in ones by account, wherever they connect from."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return get_remote_address()


_per_ip = limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_INITIATE_IP"],
    scope="initiate-ip",
    key_func=_client_key,
    methods=["POST"],
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
