"""Throttles on login, password reset, password change and registration.

Every per-email throttle is keyed on the address as accounts are looked up by it, so other
spellings of one address share a count. Login counts only failed attempts per email, and per
email *and* client, so that a stranger guessing from one address cannot lock the owner out;
the per-email count over every address is a much higher, slower backoff. Password emails are
capped per address silently: past the cap the page answers as always but sends nothing, so a
stranger asking for someone's reset links can neither flood their inbox nor make their own
request fail.
"""

from __future__ import annotations

from flask import current_app, request
from flask_login import current_user
from limits import parse

from storefront.clients import client_address
from storefront.extensions import limiter
from storefront.ratelimits import post_limit
from storefront.validation import email_identity


def _email_key() -> str:
    return "email:" + email_identity(request.form.get("email"))


def _email_ip_key() -> str:
    return f"{_email_key()}|ip:{client_address()}"


def _failed(response) -> bool:
    """A refused attempt (wrong password, invalid form); not a success, not a 429."""
    return response.status_code == 400


def _stack(*limits):
    def apply(view):
        for limit in reversed(limits):
            view = limit(view)
        return view

    return apply


login_limits = _stack(
    post_limit("RATELIMIT_LOGIN_IP", "login-ip"),
    post_limit("RATELIMIT_LOGIN_EMAIL_IP", "login-email-ip", _email_ip_key, _failed),
    post_limit("RATELIMIT_LOGIN_EMAIL", "login-email", _email_key, _failed),
)
reset_limits = post_limit("RATELIMIT_RESET_IP", "reset-ip")


def may_send_password_email(email: str) -> bool:
    """Count a password email (reset or claim link) for the address; False once
    RATELIMIT_RESET_EMAIL are used up in its window, and then nothing should be sent."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return True
    cap = parse(current_app.config["RATELIMIT_RESET_EMAIL"])
    return limiter.limiter.hit(cap, "password-email", email_identity(email))


def _account_key() -> str:
    user_id = getattr(current_user, "id", None)
    return f"user:{user_id}" if user_id is not None else f"ip:{client_address()}"


# Guessing the current password from a logged-in session: failures only, per account.
password_change_limits = post_limit("RATELIMIT_LOGIN_EMAIL_IP", "password-change",
                                    _account_key, _failed)
register_limits = post_limit("RATELIMIT_REGISTER_IP", "register-ip")
