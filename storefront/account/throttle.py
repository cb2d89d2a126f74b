"""Throttles on login, password reset, password change and registration.

Every per-email throttle is keyed on the address as accounts are looked up by it, so other
spellings of one address share a count. Login counts only failed attempts per email, and per
email *and* client IP, so that a stranger guessing from one address cannot lock the owner out;
the per-email count over every address is a much higher, slower backoff.
"""

from __future__ import annotations

from flask import current_app, request
from flask_limiter.util import get_remote_address
from flask_login import current_user

from storefront.extensions import limiter
from storefront.validation import email_identity


def _email_key() -> str:
    return "email:" + email_identity(request.form.get("email"))


def _email_ip_key() -> str:
    return f"{_email_key()}|ip:{get_remote_address()}"


def _failed(response) -> bool:
    """A refused attempt (wrong password, invalid form); not a success, not a 429."""
    return response.status_code == 400


def _limit(setting: str, scope: str, key_func=None, deduct_when=None):
    return limiter.shared_limit(lambda: current_app.config[setting], scope=scope,
                                key_func=key_func, methods=["POST"], deduct_when=deduct_when)


def _stack(*limits):
    def apply(view):
        for limit in reversed(limits):
            view = limit(view)
        return view

    return apply


login_limits = _stack(
    _limit("RATELIMIT_LOGIN_IP", "login-ip"),
    _limit("RATELIMIT_LOGIN_EMAIL_IP", "login-email-ip", _email_ip_key, _failed),
    _limit("RATELIMIT_LOGIN_EMAIL", "login-email", _email_key, _failed),
)
reset_limits = _stack(
    _limit("RATELIMIT_RESET_IP", "reset-ip"),
    _limit("RATELIMIT_RESET_EMAIL", "reset-email", _email_key),
)


def _account_key() -> str:
    user_id = getattr(current_user, "id", None)
    return f"user:{user_id}" if user_id is not None else f"ip:{get_remote_address()}"


# Guessing the current password from a logged-in session: failures only, per account.
password_change_limits = _limit("RATELIMIT_LOGIN_EMAIL_IP", "password-change", _account_key,
                                _failed)
register_limits = _limit("RATELIMIT_REGISTER_IP", "register-ip")
