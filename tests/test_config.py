"""Startup refuses configurations that would be unsafe, with a one-line reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from storefront import create_app
from storefront.config import ConfigError

LIVE = {"STRIPE_SECRET_KEY": "sk_live_abc123", "STRIPE_PUBLISHABLE_KEY": "pk_live_abc123"}
PRODUCTION = {
    "STOREFRONT_ENV": "production",
    "SECRET_KEY": "a-long-production-secret-of-more-than-32-bytes",
    "SQLALCHEMY_DATABASE_URI": "sqlite://",
    "STRIPE_WEBHOOK_SECRET": "whsec_live",
    "STRIPE_API_BASE": None,
    "MAIL_SERVER": "smtp.example.com",
    "PUBLIC_BASE_URL": "https://shop.example.com",
    "TRUSTED_HOSTS": ["shop.example.com"],
    # Nothing listens here: starting the app must not need Redis to answer.
    "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:9/0",
    "RATELIMIT_ENABLED": True,
    "CACHE_REDIS_URL": "redis://127.0.0.1:9/1",
    **LIVE,
}
TEST_KEYS = {"STRIPE_SECRET_KEY": "sk_test_abc123", "STRIPE_PUBLISHABLE_KEY": "pk_test_abc123"}
STAGING = {**PRODUCTION, "STOREFRONT_ENV": "staging", **TEST_KEYS}
HSTS = "max-age=31536000; includeSubDomains"


def _refused(overrides: dict) -> str:
    with pytest.raises(ConfigError) as excinfo:
        create_app(overrides)
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_live_keys_refused_outside_production():
    message = _refused({"STOREFRONT_ENV": "development", "STRIPE_API_BASE": None, **LIVE})
    assert "live Stripe keys are refused" in message


def test_test_keys_refused_in_production():
    message = _refused({**PRODUCTION, "STRIPE_SECRET_KEY": "sk_test_abc",
                        "STRIPE_PUBLISHABLE_KEY": "pk_test_abc"})
    assert "live Stripe keys" in message


@pytest.mark.parametrize("missing", ["SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_SECRET_KEY",
                                     "MAIL_SERVER", "PUBLIC_BASE_URL"])
def test_missing_secret_refused_in_production(missing):
    message = _refused({**PRODUCTION, missing: None})
    assert missing in message and "must be set" in message


def test_emulator_base_must_be_loopback():
    message = _refused({"STOREFRONT_ENV": "development",
                        "STRIPE_API_BASE": "http://10.1.2.3:8420"})
    assert "loopback" in message


def test_emulator_refused_in_production():
    assert "production" in _refused({**PRODUCTION, "STRIPE_API_BASE": "http://127.0.0.1:8420"})


def test_valid_production_config_starts():
    app = create_app(PRODUCTION)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert "test_mode" not in app.blueprints  # no emulator-only routes with real Stripe


def test_development_defaults_to_the_emulator(monkeypatch):
    for name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STRIPE_EMULATOR_PORT", "8555")
    app = create_app({"STOREFRONT_ENV": "development", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["STRIPE_API_BASE"] == "http://127.0.0.1:8555"
    assert "test_mode" in app.blueprints


# --- The secret key in production -----------------------------------------------------------

def _example_secret_key() -> str:
    env_example = Path(__file__).resolve().parent.parent / ".env.example"
    [line] = [line for line in env_example.read_text().splitlines()
              if line.startswith("SECRET_KEY=")]
    return line.split("=", 1)[1]


@pytest.mark.parametrize("secret", ["short-secret", "x" * 31, "é" * 15])
def test_short_secret_key_refused_in_production(secret):
    message = _refused({**PRODUCTION, "SECRET_KEY": secret})
    assert "SECRET_KEY" in message and "32" in message


def test_the_example_secret_key_is_refused_in_production():
    message = _refused({**PRODUCTION, "SECRET_KEY": _example_secret_key()})
    assert "SECRET_KEY" in message and ".env.example" in message


def test_production_hashes_passwords_with_the_strong_parameters():
    from storefront.account.passwords import hash_password

    app = create_app(PRODUCTION)
    with app.app_context():
        assert "$argon2id$v=19$m=19456,t=2,p=1$" in hash_password("violet-harbour-lantern-42")


@pytest.mark.parametrize("settings", [PRODUCTION, STAGING], ids=["production", "staging"])
@pytest.mark.parametrize(("override", "named"), [
    ({"TRUSTED_HOSTS": None}, "TRUSTED_HOSTS"),
    ({"RATELIMIT_STORAGE_URI": "memory://"}, "RATELIMIT_STORAGE_URI"),
    ({"RATELIMIT_ENABLED": False}, "RATELIMIT_ENABLED"),
    ({"CACHE_REDIS_URL": None}, "CACHE_REDIS_URL"),
    ({"CACHE_TYPE": "SimpleCache"}, "CACHE_REDIS_URL"),
    ({"SECRET_KEY": None}, "SECRET_KEY"),
    ({"MAIL_SERVER": None}, "MAIL_SERVER"),
    ({"PUBLIC_BASE_URL": None}, "PUBLIC_BASE_URL"),
    ({"SQLALCHEMY_DATABASE_URI": None}, "DATABASE_URL"),
    ({"STRIPE_API_BASE": "http://127.0.0.1:8420"}, "STRIPE_API_BASE"),
])
def test_production_and_staging_refuse_unsafe_settings(settings, override, named):
    message = _refused({**settings, **override})
    assert named in message and settings["STOREFRONT_ENV"] in message


def test_staging_needs_test_keys():
    message = _refused({**STAGING, **LIVE})
    assert "staging" in message and "test Stripe keys" in message


def test_staging_runs_with_production_settings_and_test_keys():
    app = create_app(STAGING)
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["DEBUG"] is False
    assert app.config["CACHE_TYPE"] == "RedisCache"
    assert "test_mode" not in app.blueprints


def test_staging_is_chosen_by_the_environment(monkeypatch):
    monkeypatch.setenv("STOREFRONT_ENV", "staging")
    monkeypatch.setenv("STRIPE_API_BASE", "")
    assert "must be set in the staging environment" in _refused({})


def test_production_plan_cache_is_shared():
    assert create_app(PRODUCTION).config["CACHE_TYPE"] == "RedisCache"


def _get(app, host: str):
    return app.test_client().get("/api/finances/api/stripe/config/", headers={"Host": host})


@pytest.mark.parametrize("settings", [PRODUCTION, STAGING], ids=["production", "staging"])
def test_hsts_and_trusted_hosts_in_production(settings):
    app = create_app(settings)
    response = _get(app, "shop.example.com")
    assert response.status_code == 401
    assert response.headers["Strict-Transport-Security"] == HSTS
    assert _get(app, "evil.example.net").status_code == 400


def test_no_hsts_in_development():
    app = create_app({"STOREFRONT_ENV": "development", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "TRUSTED_HOSTS": ["127.0.0.1"]})
    response = _get(app, "127.0.0.1")
    assert response.status_code == 401
    assert "Strict-Transport-Security" not in response.headers
    assert _get(app, "evil.example.net").status_code == 400
