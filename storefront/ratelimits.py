"""Rate limits on starting a purchase, shared by the checkout page and the JSON API; and
`post_limit`, which every per-client or per-email limit of the site is made with.

Per client (IP for anonymous callers, account when logged in); per email from one client;
and per email from every client together, much higher, so that a stranger starting
purchases for someone's address cannot block that person's own purchases. Emails are keyed
on the address as accounts are looked up by it, so other spellings share a count.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask.globals import request_ctx
from flask_login import current_user

from storefront.clients import client_address
from storefront.extensions import limiter
from storefront.validation import email_identity


def requested_email() -> str | None:
    """The email a purchase start is for, as accounts are looked up by it: the JSON body's,
    else the logged-in user's (the page ignores a form email when logged in), else the form's."""
    email = None
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict) and isinstance(body.get("student_info"), dict):
        email = body["student_info"].get("email")
    elif current_user.is_authenticated:
        email = current_user.email
    else:
        email = request.form.get("email")
    return email_identity(email) if isinstance(email, str) and email.strip() else None


def _client_key() -> str:
    """Anonymous callers by IP; logged-in ones by account, wherever they connect from."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return client_address()


def _initiate_email_key() -> str:
    email = requested_email()
    return "email:" + email if email else "ip:" + client_address()


def _initiate_email_client_key() -> str:
    return f"{_initiate_email_key()}|{_client_key()}"


def post_limit(setting: str, scope: str, key_func=client_address, deduct_when=None):
    """A limit on POSTs, read from config[setting] per request, counted per key_func (by
    default the client: its IPv4 address or IPv6 /64) in the named scope."""
    return limiter.shared_limit(lambda: current_app.config[setting], scope=scope,
                                key_func=key_func, methods=["POST"], deduct_when=deduct_when)


_per_client = post_limit("RATELIMIT_INITIATE_IP", "initiate-ip", _client_key)
_per_email_client = post_limit("RATELIMIT_INITIATE_EMAIL_IP", "initiate-email-ip",
                               _initiate_email_client_key)
_per_email = post_limit("RATELIMIT_INITIATE_EMAIL", "initiate-email", _initiate_email_key)


def initiate_limits(view):
    """Apply the purchase-initiation limits to a view."""
    return _per_client(_per_email_client(_per_email(view)))


def drop_idle_limit_check(app: Flask) -> None:
    """Flask-Limiter checks application-wide, default and blueprint limits before every
    request; the site has none (each limit decorates its view, which checks it when called),
    so that before-request check only costs time, on every request: drop it. Kept whenever
    such limits exist (or cannot be seen)."""
    manager = limiter.limit_manager
    blueprint_limits = getattr(manager, "_blueprint_limits", None)
    if manager.application_limits or manager.default_limits or blueprint_limits != {}:
        return
    check = limiter._check_request_limit
    app.before_request_funcs[None] = [
        hook for hook in app.before_request_funcs.get(None, []) if hook != check]


# Where Flask-Limiter keeps a request's limits (which it checked, what to deduct after the
# response): made by the first limited view the request reaches.
_LIMITER_STATE = "_limiter_request_context"


def skip_limiter_hooks_when_idle(app: Flask) -> None:
    """Flask-Limiter's after-request hook (conditional deductions, limit headers) and its
    teardown (clearing the request's limits) only read or reset the request's limits; on a
    request that met no limit they would first create them empty. Run them only when a
    limit was met: the same outcome, without that work on every other request."""
    after = app.after_request_funcs.get(None, [])
    for index, hook in enumerate(after):
        if getattr(hook, "args", None) == (limiter,):  # partial(Limiter.__inject_headers, …)
            after[index] = _after_limits(hook)
    teardown = app.teardown_request_funcs.get(None, [])
    for index, hook in enumerate(teardown):
        if getattr(hook, "__self__", None) is limiter:  # limiter.__release_context
            teardown[index] = _teardown_limits(hook)


def _after_limits(hook):
    def after_limits(response: Response) -> Response:
        return hook(response) if hasattr(request_ctx, _LIMITER_STATE) else response
    return after_limits


def _teardown_limits(hook):
    def teardown_limits(error: BaseException | None = None) -> None:
        if hasattr(request_ctx, _LIMITER_STATE):
            hook(error)
    return teardown_limits
