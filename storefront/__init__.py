"""Storefront: tutoring-hour packages paid through Stripe, credited to an hour ledger."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from storefront.config import (
    PRODUCTION_LIKE,
    check_config,
    complete_config,
    emulator_checkout,
    load_config,
)


class Storefront(Flask):
    """Flask, remembering for each hook and view whether it needs wrapping as a coroutine
    (Flask asks for every one of them on every request)."""

    _SYNC_MEMO_SIZE = 1024  # hooks, views and error handlers; more only from per-request ones

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_callables: dict[Any, Any] = {}

    def ensure_sync(self, func):
        """As Flask's, answered from memory after the first call for the function."""
        try:
            return self._sync_callables[func]
        except KeyError:
            pass
        except TypeError:  # not hashable
            return super().ensure_sync(func)
        sync = super().ensure_sync(func)
        if len(self._sync_callables) < self._SYNC_MEMO_SIZE:
            self._sync_callables[func] = sync
        return sync


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment (overridden by `config`), checked, then
    extensions, blueprints, error handlers and commands. Nothing slow happens here."""
    app = Storefront(
        __name__,
        instance_relative_config=True,
        template_folder=os.path.join(os.path.dirname(__file__), os.pardir, "templates"),
        static_folder=os.path.join(os.path.dirname(__file__), os.pardir, "static"),
    )
    settings = load_config((config or {}).get("STOREFRONT_ENV"))
    settings.update(config or {})
    production = settings["STOREFRONT_ENV"] in PRODUCTION_LIKE
    if not settings.get("SQLALCHEMY_DATABASE_URI") and not production:
        os.makedirs(app.instance_path, exist_ok=True)
        settings["SQLALCHEMY_DATABASE_URI"] = (
            "sqlite:///" + os.path.join(app.instance_path, "storefront.db")
        )
    complete_config(settings)
    check_config(settings)
    app.config.update(settings)
    from storefront.logs import configure_logging, redact_request_lines, register_request_log

    configure_logging(app, json_lines=production)
    app.json.sort_keys = False  # keep the contract's field order

    if app.config["PROXY_FIX_X_FOR"] or app.config["PROXY_FIX_X_PROTO"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"],
                                x_proto=app.config["PROXY_FIX_X_PROTO"])
    from storefront.sessions import SiteSessionInterface
    from storefront.web import IdConverter

    app.session_interface = SiteSessionInterface()

    app.url_map.converters["id"] = IdConverter
    register_request_log(app)  # first, so that every request (even a refused one) is timed
    register_extensions(app)
    register_blueprints(app)

    from storefront.errorhandlers import register_error_handlers
    from storefront.web import register_web

    register_error_handlers(app)
    register_web(app)

    from storefront.cli import register_commands

    register_commands(app)
    redact_request_lines(app)
    from storefront.ratelimits import drop_idle_limit_check, skip_limiter_hooks_when_idle

    drop_idle_limit_check(app)  # once every limit is declared
    skip_limiter_hooks_when_idle(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions of storefront.extensions to this app."""
    from storefront import models  # noqa: F401  (tables must be known to Migrate)
    from storefront.account.login import configure_login
    from storefront.catalog.services import watch_plan_changes
    from storefront.database import configure_pings, configure_sqlite
    from storefront.extensions import cache, csrf, db, limiter, migrate
    from storefront.web import csrf_check_on_unsafe_methods

    db.init_app(app)
    migrate.init_app(
        app, db, directory=os.path.join(app.root_path, os.pardir, "migrations"),
        render_as_batch=True, compare_type=True,
    )
    csrf.init_app(app)
    csrf_check_on_unsafe_methods(app)
    limiter.init_app(app)
    cache.init_app(app)
    configure_login(app)
    configure_sqlite(app)
    configure_pings(app)
    watch_plan_changes()


def register_blueprints(app: Flask) -> None:
    """Probes, the site's pages, the JSON API and the webhook; test-mode routes only offline."""
    from storefront import api, catalog, checkout, health, webhooks
    from storefront.account.subscription_views import bp as subscription_bp
    from storefront.account.views import bp as account_bp
    from storefront.staff.plans import bp as staff_plans_bp
    from storefront.staff.subscriptions import bp as staff_subscriptions_bp
    from storefront.staff.views import bp as staff_bp
    from storefront.staff.webhook_log import bp as staff_webhooks_bp

    app.register_blueprint(health.bp)
    app.register_blueprint(catalog.bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(subscription_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(staff_plans_bp)
    app.register_blueprint(staff_subscriptions_bp)
    app.register_blueprint(staff_webhooks_bp)
    app.register_blueprint(checkout.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api.balances_bp)
    app.register_blueprint(api.staff_bp)
    app.register_blueprint(webhooks.bp)
    if emulator_checkout(app.config):
        from storefront.checkout.setup_test_mode import test_mode_setup_bp

        app.register_blueprint(checkout.test_mode_bp)
        app.register_blueprint(test_mode_setup_bp)
