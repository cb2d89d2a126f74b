"""Configuration, read from the environment when the app is created, and its startup checks."""

from __future__ import annotations

import ipaddress
import os
from typing import Any
from urllib.parse import urlsplit

from storefront.money import CURRENCIES, is_supported

# The Stripe API version every request is pinned to (the one stripe==16.1.0 was built for).
STRIPE_API_VERSION = "2026-10-28.endive"

# Keys used against the local Stripe emulator; they are never valid at Stripe.
EMULATOR_SECRET_KEY = "sk_test_emulator"  # noqa: S105 (the emulator accepts any sk_ key)
EMULATOR_PUBLISHABLE_KEY = "pk_test_emulator"
HSTS_ONE_YEAR = 31536000

# Sessions and emailed links are signed with SECRET_KEY: production wants at least this many
# random bytes, and never the placeholder of .env.example.
MIN_SECRET_KEY_BYTES = 32
EXAMPLE_SECRET_KEY = "change-me-to-64-random-hex-characters-from-secrets-token-hex-32"  # noqa: S105


class ConfigError(RuntimeError):
    """The environment describes a configuration the storefront refuses to start with."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _env_list(name: str) -> list[str] | None:
    """A comma-separated setting as a list; None when unset or empty."""
    items = [item.strip() for item in (_env(name) or "").split(",") if item.strip()]
    return items or None


def _database_url(url: str | None) -> str | None:
    """Accept the common postgres:// spellings and use the psycopg 3 driver for them."""
    if url is None:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    """Settings shared by every environment."""

    NAME = "base"
    DEBUG = False
    TESTING = False
    SESSION_COOKIE_SECURE = False
    DEFAULT_SECRET_KEY: str | None = None
    # Without real Stripe keys, talk to the local emulator.
    EMULATOR_BY_DEFAULT = True
    # Strict-Transport-Security max-age; None sends no header (plain-HTTP development).
    HSTS_SECONDS: int | None = None

    @classmethod
    def from_env(cls) -> dict[str, Any]:
        """Build the settings from the environment as it is now."""
        secret_key = _env("STRIPE_SECRET_KEY")
        publishable_key = _env("STRIPE_PUBLISHABLE_KEY")
        api_base = _env("STRIPE_API_BASE")
        emulator_port = int(_env("STRIPE_EMULATOR_PORT", "8420"))
        decline_limit = int(_env("PAYMENT_DECLINE_LIMIT", "5"))
        if secret_key is None and cls.EMULATOR_BY_DEFAULT:
            secret_key = EMULATOR_SECRET_KEY
            publishable_key = publishable_key or EMULATOR_PUBLISHABLE_KEY
            api_base = api_base or f"http://127.0.0.1:{emulator_port}"
        return {
            "STOREFRONT_ENV": cls.NAME,
            "DEBUG": cls.DEBUG,
            "TESTING": cls.TESTING,
            "SECRET_KEY": _env("SECRET_KEY", cls.DEFAULT_SECRET_KEY),
            "SQLALCHEMY_DATABASE_URI": _database_url(_env("DATABASE_URL")),
            # A pooled connection idle this long is pinged before use (storefront/database.py).
            "DATABASE_PING_AFTER_IDLE_SECONDS": float(
                _env("DATABASE_PING_AFTER_IDLE_SECONDS", "1")),
            "STRIPE_SECRET_KEY": secret_key,
            "STRIPE_PUBLISHABLE_KEY": publishable_key,
            "STRIPE_WEBHOOK_SECRET": _env("STRIPE_WEBHOOK_SECRET"),
            "STRIPE_API_BASE": api_base,
            "STRIPE_API_VERSION": STRIPE_API_VERSION,
            "STRIPE_TIMEOUT_SECONDS": float(_env("STRIPE_TIMEOUT_SECONDS", "20")),
            "STRIPE_MAX_NETWORK_RETRIES": int(_env("STRIPE_MAX_NETWORK_RETRIES", "2")),
            "STRIPE_WEBHOOK_TOLERANCE_SECONDS": 300,
            "STRIPE_EMULATOR_PORT": emulator_port,
            # Payment methods a PaymentIntent offers: unset, whatever the business enabled
            # in its Stripe dashboard for the currency (automatic_payment_methods); else
            # exactly these (comma-separated Stripe types: card,sepa_debit,ideal).
            "STRIPE_PAYMENT_METHOD_TYPES": _env_list("STRIPE_PAYMENT_METHOD_TYPES"),
            # A subscription month's hours stay usable this long after its period ends.
            "SUBSCRIPTION_GRACE_HOURS": int(_env("SUBSCRIPTION_GRACE_HOURS", "0")),
            "RATELIMIT_ENABLED": _env_bool("RATELIMIT_ENABLED", True),
            "RATELIMIT_STORAGE_URI": _env("RATELIMIT_STORAGE_URI", "memory://"),
            "RATELIMIT_HEADERS_ENABLED": True,
            # Per email from one client (IP, or account when logged in), and per email from
            # everywhere (much higher, so that a stranger cannot block someone's purchases).
            "RATELIMIT_INITIATE_IP": _env("RATELIMIT_INITIATE_IP", "10 per hour"),
            "RATELIMIT_INITIATE_EMAIL_IP": _env("RATELIMIT_INITIATE_EMAIL_IP", "5 per hour"),
            "RATELIMIT_INITIATE_EMAIL": _env("RATELIMIT_INITIATE_EMAIL", "50 per hour"),
            # Every login attempt per IP; only failed ones per email from one IP, and per
            # email from everywhere (much higher, so that guessing cannot lock the owner out).
            "RATELIMIT_LOGIN_IP": _env("RATELIMIT_LOGIN_IP", "30 per hour"),
            "RATELIMIT_LOGIN_EMAIL_IP": _env("RATELIMIT_LOGIN_EMAIL_IP", "10 per hour"),
            "RATELIMIT_LOGIN_EMAIL": _env("RATELIMIT_LOGIN_EMAIL", "100 per hour"),
            "RATELIMIT_RESET_IP": _env("RATELIMIT_RESET_IP", "10 per hour"),
            "RATELIMIT_RESET_EMAIL": _env("RATELIMIT_RESET_EMAIL", "3 per hour"),
            "RATELIMIT_REGISTER_IP": _env("RATELIMIT_REGISTER_IP", "10 per hour"),
            "RATELIMIT_TEST_MODE_CONFIRM": _env("RATELIMIT_TEST_MODE_CONFIRM", "30 per hour"),
            # Card testing: this many declines within the window on one purchase, from one
            # client IP or for one email from one IP refuse new purchase starts and
            # confirmations until the window passes (and cancel what they could still pay);
            # for one email from every IP together, the much higher _EMAIL limit, so that a
            # stranger cannot block someone's own purchases.
            "PAYMENT_DECLINE_LIMIT": decline_limit,
            "PAYMENT_DECLINE_LIMIT_EMAIL": int(_env("PAYMENT_DECLINE_LIMIT_EMAIL",
                                                    str(4 * decline_limit))),
            "PAYMENT_DECLINE_WINDOW_MINUTES": int(_env("PAYMENT_DECLINE_WINDOW_MINUTES", "60")),
            # Links in email and Stripe's return URL are built from this, never from the
            # request's Host header (required in production).
            "PUBLIC_BASE_URL": _env("PUBLIC_BASE_URL"),
            "TRUSTED_HOSTS": [h.strip() for h in (_env("TRUSTED_HOSTS") or "").split(",")
                              if h.strip()] or None,
            # Proxies in front of the app (ProxyFix): how many set X-Forwarded-For / -Proto.
            "PROXY_FIX_X_FOR": int(_env("PROXY_FIX_X_FOR", "0")),
            "PROXY_FIX_X_PROTO": int(_env("PROXY_FIX_X_PROTO", "0")),
            "MAIL_SERVER": _env("MAIL_SERVER"),
            "MAIL_PORT": int(_env("MAIL_PORT", "25")),
            "MAIL_USE_TLS": _env_bool("MAIL_USE_TLS", False),
            "MAIL_USE_SSL": _env_bool("MAIL_USE_SSL", False),
            "MAIL_USERNAME": _env("MAIL_USERNAME"),
            "MAIL_PASSWORD": _env("MAIL_PASSWORD"),
            "MAIL_DEFAULT_SENDER": _env("MAIL_DEFAULT_SENDER", "Storefront <no-reply@localhost>"),
            "MAIL_OUTBOX_DIR": _env("MAIL_OUTBOX_DIR"),
            # One shared cache (Redis) keeps every worker's plan list in step; the in-process
            # SimpleCache is for a single process (development, tests).
            # Default (complete_config): RedisCache when CACHE_REDIS_URL is set.
            "CACHE_TYPE": _env("CACHE_TYPE"),
            "CACHE_REDIS_URL": _env("CACHE_REDIS_URL"),
            "PRICING_CACHE_SECONDS": int(_env("PRICING_CACHE_SECONDS", "3600")),
            "PENDING_PURCHASE_REUSE_MINUTES": 30,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": cls.SESSION_COOKIE_SECURE,
            "HSTS_SECONDS": cls.HSTS_SECONDS,
            # Request bodies: 1 MB for the site's forms; the JSON API and the webhook take
            # 64 KB (storefront/web.py limit_body), far above any real request.
            "MAX_CONTENT_LENGTH": int(_env("MAX_CONTENT_LENGTH", str(1024 * 1024))),
            "API_MAX_CONTENT_LENGTH": int(_env("API_MAX_CONTENT_LENGTH", str(64 * 1024))),
            "REMEMBER_COOKIE_HTTPONLY": True,
            "REMEMBER_COOKIE_SAMESITE": "Lax",
            "REMEMBER_COOKIE_SECURE": cls.SESSION_COOKIE_SECURE,
            "WTF_CSRF_TIME_LIMIT": None,
            # argon2id at OWASP's parameters; the test suite uses cheap ones to run quickly.
            "PASSWORD_HASH_COST": "cheap" if cls.TESTING else "strong",
            "BABEL_LOCALE": _env("BABEL_LOCALE", "en_IE"),
            # Prices shown to a visitor whose browser's languages name no currency we sell in.
            "DEFAULT_CURRENCY": _env("DEFAULT_CURRENCY", "eur").lower(),
        }


class DevelopmentConfig(Config):
    """Local development: SQLite under instance/, the Stripe emulator unless keys are set."""

    NAME = "development"
    DEBUG = True
    DEFAULT_SECRET_KEY = "development-only-secret-key"  # noqa: S105 (never production)


class TestingConfig(Config):
    """The test suite: settings are mostly overridden by the fixtures."""

    NAME = "testing"
    TESTING = True
    DEFAULT_SECRET_KEY = "testing-only-secret-key"  # noqa: S105 (never production)


class ProductionConfig(Config):
    """Production: every secret must come from the environment."""

    NAME = "production"
    SESSION_COOKIE_SECURE = True
    EMULATOR_BY_DEFAULT = False
    HSTS_SECONDS = HSTS_ONE_YEAR


class StagingConfig(ProductionConfig):
    """Staging: production's settings and checks, but Stripe test keys (live ones refused)."""

    NAME = "staging"


CONFIGS: dict[str, type[Config]] = {
    c.NAME: c for c in (DevelopmentConfig, TestingConfig, StagingConfig, ProductionConfig)
}
# Environments that run with production's settings and startup checks.
PRODUCTION_LIKE = frozenset({ProductionConfig.NAME, StagingConfig.NAME})


def load_config(env_name: str | None = None) -> dict[str, Any]:
    """Return the settings of the named environment (default: STOREFRONT_ENV, else development)."""
    name = env_name or _env("STOREFRONT_ENV", "development")
    try:
        return CONFIGS[name].from_env()
    except KeyError:
        raise ConfigError(
            f"STOREFRONT_ENV must be one of {', '.join(CONFIGS)}, not {name!r}"
        ) from None


def emulator_checkout(config: dict[str, Any]) -> bool:
    """Test mode: the Stripe emulator's own keys against a local Stripe API (STRIPE_API_BASE).
    The checkout then uses the offline stand-in for Stripe.js and its confirm routes. With any
    other keys (a real account's), the pages load Stripe.js from js.stripe.com, even when the
    server's API calls go to a local Stripe-shaped server."""
    return bool(config.get("STRIPE_API_BASE")) and (
        config.get("STRIPE_SECRET_KEY") == EMULATOR_SECRET_KEY
        or config.get("STRIPE_PUBLISHABLE_KEY") == EMULATOR_PUBLISHABLE_KEY)


def _key_mode(key: str) -> str | None:
    """'live', 'test' or None for a Stripe key of any kind (sk_, rk_, pk_)."""
    parts = key.split("_")
    if len(parts) >= 3 and parts[1] in ("live", "test"):
        return parts[1]
    return None


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_secret_key(secret_key: str, env: str) -> None:
    if secret_key == EXAMPLE_SECRET_KEY:
        raise ConfigError("SECRET_KEY is the placeholder from .env.example; generate one "
                          "with: python -c 'import secrets; print(secrets.token_hex(32))'")
    if len(secret_key.encode()) < MIN_SECRET_KEY_BYTES:
        raise ConfigError(f"SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes in {env}")


def complete_config(config: dict[str, Any]) -> None:
    """Fill the settings whose default depends on others (after overrides are applied)."""
    if not config.get("CACHE_TYPE"):
        config["CACHE_TYPE"] = "RedisCache" if config.get("CACHE_REDIS_URL") else "SimpleCache"


def _check_production_services(config: dict[str, Any], env: str) -> None:
    """What several workers behind a proxy need: known hosts, shared limits, a shared cache."""
    if not config.get("TRUSTED_HOSTS"):
        raise ConfigError(f"TRUSTED_HOSTS must be set in the {env} environment "
                          "(the host names the site answers to, comma-separated)")
    if not config.get("RATELIMIT_ENABLED"):
        raise ConfigError(f"RATELIMIT_ENABLED=false is refused in the {env} environment")
    if (config.get("RATELIMIT_STORAGE_URI") or "memory://").startswith("memory://"):
        raise ConfigError(f"RATELIMIT_STORAGE_URI must be a shared store (redis://…) in the "
                          f"{env} environment, not memory://")
    if not config.get("CACHE_REDIS_URL") or config.get("CACHE_TYPE") != "RedisCache":
        raise ConfigError(f"CACHE_REDIS_URL must be set in the {env} environment: every "
                          "worker must see a plan change at once")


def check_config(config: dict[str, Any]) -> None:
    """Raise ConfigError, with a one-line reason, for a configuration that must not start."""
    env = config["STOREFRONT_ENV"]
    production = env in PRODUCTION_LIKE  # staging runs with production's settings
    required = ["SECRET_KEY", "STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY"]
    if production:
        required += ["STRIPE_WEBHOOK_SECRET", "SQLALCHEMY_DATABASE_URI", "MAIL_SERVER",
                     "PUBLIC_BASE_URL"]
    for name in required:
        if not config.get(name):
            label = "DATABASE_URL" if name == "SQLALCHEMY_DATABASE_URI" else name
            raise ConfigError(f"{label} must be set in the {env} environment")
    if production:
        _check_production_services(config, env)
        _check_secret_key(config["SECRET_KEY"], env)
        if config.get("PASSWORD_HASH_COST", "strong") != "strong":
            raise ConfigError(f"PASSWORD_HASH_COST must be 'strong' in {env}")

    if not is_supported(config.get("DEFAULT_CURRENCY", "eur")):
        raise ConfigError("DEFAULT_CURRENCY must be one of " + ", ".join(CURRENCIES))

    secret, publishable = config["STRIPE_SECRET_KEY"], config["STRIPE_PUBLISHABLE_KEY"]
    if not secret.startswith(("sk_", "rk_")):
        raise ConfigError("STRIPE_SECRET_KEY must be a Stripe secret key (sk_… or rk_…)")
    if not publishable.startswith("pk_"):
        raise ConfigError("STRIPE_PUBLISHABLE_KEY must be a Stripe publishable key (pk_…)")
    modes = {_key_mode(secret), _key_mode(publishable)}
    if env == ProductionConfig.NAME and modes != {"live"}:
        raise ConfigError("production needs live Stripe keys; test keys are refused")
    if env == StagingConfig.NAME and modes != {"test"}:
        raise ConfigError("staging needs test Stripe keys (sk_test_…, pk_test_…); "
                          "live keys are refused")
    if env != ProductionConfig.NAME and "live" in modes:
        raise ConfigError(f"live Stripe keys are refused in the {env} environment")

    api_base = config.get("STRIPE_API_BASE")
    if api_base:
        if production:
            raise ConfigError(f"STRIPE_API_BASE (the emulator) cannot be used in the {env} "
                              "environment")
        if not _is_loopback(api_base):
            raise ConfigError("STRIPE_API_BASE must be a loopback address (127.0.0.1, ::1)")
