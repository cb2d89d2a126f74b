"""The security headers of every response: the exact Content-Security-Policy (only 'self' with
the Stripe emulator; with real keys, exactly the sources Stripe documents for Stripe.js and
the Payment Element), no inline script or style on any page, HSTS in production, nosniff, a
Referrer-Policy, and no cross-origin isolation headers (Stripe.js does not support them)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import log_in
from tests.test_config import PRODUCTION

# With the emulator everything comes from this site: the test-mode card form is our own.
EMULATOR_CSP = (
    "default-src 'self'; script-src 'self'; frame-src 'none'; connect-src 'self'; "
    "img-src 'self'; style-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Stripe's integration security guide (docs.stripe.com/security/guide, Content Security
# Policy): Stripe.js, the Payment Element included, needs exactly these sources.
STRIPE_CSP = (
    "default-src 'self'; "
    "script-src 'self' https://*.js.stripe.com https://js.stripe.com "
    "https://maps.googleapis.com; "
    "frame-src https://*.js.stripe.com https://js.stripe.com https://hooks.stripe.com; "
    "connect-src 'self' https://api.stripe.com https://maps.googleapis.com; "
    "img-src 'self'; style-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
REAL_TEST_KEYS = {"STRIPE_API_BASE": None, "STRIPE_SECRET_KEY": "sk_test_51Real",
                  "STRIPE_PUBLISHABLE_KEY": "pk_test_51Real"}
ISOLATION_HEADERS = ("Cross-Origin-Opener-Policy", "Cross-Origin-Embedder-Policy")
INLINE = [
    (re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>\s*\S", re.I), "an inline <script> body"),
    (re.compile(r"<style\b", re.I), "a <style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "a style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an on…= event handler attribute"),
    (re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I),
     "a javascript: URL"),
]


def _common_headers_of(response, csp: str) -> None:
    headers = response.headers
    assert headers["Content-Security-Policy"] == csp, response.request.path
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    for name in ISOLATION_HEADERS:
        assert name not in headers, f"{name} on {response.request.path}"


def _pages(app) -> list[str]:
    """Every GET route that takes no URL variables (the static files aside)."""
    return sorted(rule.rule for rule in app.url_map.iter_rules()
                  if "GET" in (rule.methods or ()) and not rule.arguments
                  and rule.endpoint != "static")


def _inline_code(html: str) -> list[str]:
    return [what for pattern, what in INLINE if pattern.search(html)]


@pytest.fixture
def visitors(app, make_user, seeded):
    """Test clients: anonymous, a logged-in student and a logged-in staff member."""
    make_user("student@example.com", "Sam Student")
    make_user("staff@example.com", "Stella Staff", staff=True)
    clients = {"anonymous": app.test_client()}
    for role in ("student", "staff"):
        clients[role] = app.test_client()
        log_in(clients[role], f"{role}@example.com")
    return clients


def test_every_page_in_emulator_mode_has_the_headers_and_no_inline_code(app, visitors,
                                                                         buy):
    buy("Basic Package", email="student@example.com")
    pages = _pages(app)
    assert {"/", "/account", "/staff", "/account/login", "/healthz"} <= set(pages)
    # Pages of one object too: a receipt, the student's record, a plan's form.
    pages += ["/account/purchases/1", "/staff/students/1", "/staff/plans/1",
              "/static/css/site.css", "/api/finances/api/pricing-plans/", "/no-such-page"]
    rendered = 0
    for role, client in visitors.items():
        for path in pages:
            response = client.get(path)
            _common_headers_of(response, EMULATOR_CSP)
            html = response.get_data(as_text=True)
            response.close()
            if response.mimetype == "text/html":
                rendered += 1
                problems = _inline_code(html)
                assert problems == [], f"{path} as {role}: {problems}"
    assert rendered >= 30  # the walk saw real pages, not only redirects


def test_a_page_with_scripts_loads_them_from_files(app, client, seeded):
    plan_id = seeded["Basic Package"]
    started = client.post(f"/checkout/{plan_id}", data={
        "csrf_token": _token(client, f"/checkout/{plan_id}"), "name": "Ana Silva",
        "email": "ana@example.com"})
    assert started.status_code == 302, started.get_data(as_text=True)
    page = client.get(started.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and re.search(r"<script\b[^>]*\bsrc=", html)
    assert _inline_code(html) == []
    _common_headers_of(page, EMULATOR_CSP)


def _token(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def test_with_real_keys_the_policy_is_exactly_what_stripe_documents(make_app):
    app = make_app(**REAL_TEST_KEYS)
    client = app.test_client()
    for path in ("/", "/account/login", "/api/finances/api/pricing-plans/", "/no-such-page"):
        _common_headers_of(client.get(path), STRIPE_CSP)


@pytest.mark.parametrize("env", ["production", "staging"])
def test_production_adds_hsts_and_keeps_the_stripe_policy(env):
    from storefront import create_app

    settings = dict(PRODUCTION, STOREFRONT_ENV=env)
    if env == "staging":
        settings.update(STRIPE_SECRET_KEY="sk_test_51Real", STRIPE_PUBLISHABLE_KEY="pk_test_51Real")
    response = create_app(settings).test_client().get(
        "/healthz", headers={"Host": "shop.example.com"})
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    _common_headers_of(response, STRIPE_CSP)


def test_no_hsts_outside_production(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
