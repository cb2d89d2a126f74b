"""Throttles on login, password reset and registration: per client IP and per email."""

from __future__ import annotations

from flask import current_app, request
from flask_limiter.util import get_remote_address

from storefront.extensions import limiter


def _email_key() -> str:
    email = (request.form.get("email") or "").strip().lower()
    return f"email:{email}" if email else f"ip:{get_remote_address()}"


def _limit(setting: str, scope: str, key_func=None):
    return limiter.shared_limit(lambda: current_app.config[setting], scope=scope,
                                key_func=key_func, methods=["POST"])


def _both(ip_setting: str, email_setting: str, scope: str):
    per_ip = _limit(ip_setting, f"{scope}-ip")
    per_email = _limit(email_setting, f"{scope}-email", _email_key)
    return lambda view: per_ip(per_email(view))


login_limits = _both("RATELIMIT_LOGIN_IP", "RATELIMIT_LOGIN_EMAIL", "login")
reset_limits = _both("RATELIMIT_RESET_IP", "RATELIMIT_RESET_EMAIL", "reset")
register_limits = _limit("RATELIMIT_REGISTER_IP", "register-ip")
