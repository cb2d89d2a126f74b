"""What every page shares: security headers, template helpers, the test-mode flag."""

from __future__ import annotations

from functools import partial

from babel.numbers import get_currency_name
from flask import Flask, abort, current_app, has_request_context, request, url_for
from werkzeug.routing import IntegerConverter

from storefront import formatting
from storefront.config import emulator_checkout
from storefront.formatting import iso_utc, money_display

STRIPE_JS_URL = "https://js.stripe.com/v3/"
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """<id:…> in routes: a database id, so larger numbers are a 404, not an overflow."""

    regex = r"[0-9]+"  # the default \d+ also matches "١" and "²"

    def __init__(self, url_map, *args, **kwargs) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def test_mode() -> bool:
    """True when payments go to the local Stripe emulator (storefront.config.emulator_checkout)."""
    return emulator_checkout(current_app.config)


def absolute_url(endpoint: str, **values) -> str:
    """A full URL for email and Stripe: PUBLIC_BASE_URL when set (always in production), so a
    forged Host header cannot redirect links; in development, the current request's host."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base is None and has_request_context():
        return url_for(endpoint, _external=True, **values)
    path = url_for(endpoint, **values) if has_request_context() else None
    if path is not None:
        return (base or "http://127.0.0.1:5000").rstrip("/") + path
    with current_app.test_request_context(base_url=base or "http://127.0.0.1:5000/"):
        return url_for(endpoint, _external=True, **values)


def limit_body() -> None:
    """Before a JSON API or webhook view: read the body under API_MAX_CONTENT_LENGTH, or 413.

    A declared length over the limit is refused unread; a chunked body is read only up to the
    limit. The view then gets the body already read.
    """
    limit = current_app.config["API_MAX_CONTENT_LENGTH"]
    # Werkzeug stops a chunked body at the limit without complaint: read one byte more.
    request.max_content_length = limit + 1
    if len(request.get_data()) > limit:
        abort(413)


# Stripe's integration security guide (Content Security Policy): the sources Stripe.js, the
# Payment Element included, needs. Its frames start on varying js.stripe.com subdomains, and
# the address autocomplete talks to Google Maps.
STRIPE_SCRIPT_SOURCES = "https://*.js.stripe.com https://js.stripe.com https://maps.googleapis.com"
STRIPE_FRAME_SOURCES = "https://*.js.stripe.com https://js.stripe.com https://hooks.stripe.com"
STRIPE_CONNECT_SOURCES = "https://api.stripe.com https://maps.googleapis.com"


def content_security_policy(emulator: bool) -> str:
    """The CSP of every response: only this site with the emulator; with real Stripe, also
    exactly the sources Stripe documents for Stripe.js. No inline script or style anywhere."""
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'" + ("" if emulator else " " + STRIPE_SCRIPT_SOURCES),
        "frame-src " + ("'none'" if emulator else STRIPE_FRAME_SOURCES),
        "connect-src 'self'" + ("" if emulator else " " + STRIPE_CONNECT_SOURCES),
        "img-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def _in_locale(display, value, *, locale: str) -> str:
    return display(value, locale)


def csrf_check_on_unsafe_methods(app: Flask) -> None:
    """Flask-WTF's before-request check looks up whether the view is exempt before it looks
    at the method; GET and HEAD requests (most of the site's) now skip it at once. What it
    checks, and where, is unchanged."""
    hooks = app.before_request_funcs.get(None, [])
    for index, hook in enumerate(hooks):
        if getattr(hook, "__qualname__", "") == "CSRFProtect.init_app.<locals>.csrf_protect":
            hooks[index] = _on_unsafe_methods(hook, app)


def _on_unsafe_methods(hook, app: Flask):
    def csrf_protect() -> None:
        if request.method in app.config["WTF_CSRF_METHODS"]:
            hook()
    return csrf_protect


def register_web(app: Flask) -> None:
    """Template filters and globals, and the headers on every response."""
    locale = app.config["BABEL_LOCALE"]
    # Numbers, money and dates in the locale's style (BABEL_LOCALE); the words stay English.
    for name, display in (
            ("hours", formatting.hours_display),
            ("hours_decimal", formatting.hours_decimal_display),
            ("date", formatting.date_display), ("date_long", formatting.date_long_display),
            ("datetime", formatting.datetime_display),
            ("datetime_seconds", formatting.datetime_seconds_display),
            ("datetime_long", formatting.datetime_long_display),
            ("day_time", formatting.day_time_display)):
        app.jinja_env.filters[name] = partial(_in_locale, display, locale=locale)
    app.jinja_env.filters["money"] = lambda minor, currency="eur": money_display(
        minor, currency, locale
    )
    app.jinja_env.filters["currency_name"] = lambda code: get_currency_name(
        code.upper(), locale=locale)
    app.jinja_env.filters["iso"] = iso_utc
    app.jinja_env.globals["test_mode"] = test_mode
    app.jinja_env.globals["stripe_js_url"] = STRIPE_JS_URL
    hsts_seconds = app.config["HSTS_SECONDS"]
    policy = content_security_policy(emulator=emulator_checkout(app.config))
    # Computed once: every response gets these unless its view set its own.
    defaults = [("Content-Security-Policy", policy), ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "same-origin"), ("X-Frame-Options", "DENY")]
    if hsts_seconds:
        defaults.append(("Strict-Transport-Security",
                         f"max-age={hsts_seconds}; includeSubDomains"))
    default_names = [name.lower() for name, _ in defaults]

    @app.after_request
    def security_headers(response):
        headers = response.headers
        present = {name.lower() for name, _ in headers.items()}
        for (name, value), lowered in zip(defaults, default_names, strict=True):
            if lowered not in present:
                headers.add(name, value)
        return response
