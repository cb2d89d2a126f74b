"""Real Stripe mode in a real Chromium: with real-looking test keys (not the emulator's), the pay
page loads Stripe.js from https://js.stripe.com/v3/ under a Content-Security-Policy that allows
exactly the hosts Stripe documents, and the offline stand-in is nowhere. Stripe.js is served by
the test itself (page.route) and the PaymentIntent by a local Stripe-shaped stub, so nothing
leaves the machine."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route, expect

from tests.test_security_headers import STRIPE_CSP

pytestmark = pytest.mark.browser

PUBLISHABLE_KEY = "pk_test_51RealLookingPublishableKey"
CLIENT_SECRET = "pi_3RealLooking_secret_abc"
STRIPE_JS_URL = "https://js.stripe.com/v3/"
# Stands in for Stripe.js at its real address: records what checkout.js gave it, and says the
# Payment Element is ready, as Stripe.js does once its frame has loaded.
STRIPE_JS = """
window.stripeCalls = [];
window.Stripe = function (key) {
  window.stripeCalls.push(['Stripe', key]);
  return {
    elements: function (options) {
      window.stripeCalls.push(['elements', options.clientSecret]);
      return {create: function (type) {
        window.stripeCalls.push(['create', type]);
        return {mount: function (selector) { window.stripeCalls.push(['mount', selector]); },
                on: function (name, handler) { if (name === 'ready') { setTimeout(handler); } }};
      }};
    }
  };
};
"""
# Any Content-Security-Policy violation on the page, as the browser reports it.
CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation',
    event => window.cspViolations.push(event.violatedDirective + ' ' + event.blockedURI));
"""


@pytest.fixture
def app(make_app, stripe_stub):
    """Stripe test keys of a real account; the Stripe API answered by the local stub."""
    stripe_stub.respond(200, {
        "id": "pi_3RealLooking", "object": "payment_intent", "status": "requires_payment_method",
        "amount": 7500, "currency": "eur", "client_secret": CLIENT_SECRET, "livemode": False,
        "metadata": {}})
    return make_app(STRIPE_API_BASE=stripe_stub.base_url,
                    STRIPE_SECRET_KEY="sk_test_51RealLookingSecretKey",
                    STRIPE_PUBLISHABLE_KEY=PUBLISHABLE_KEY)


def test_pay_page_loads_stripe_js_under_stripes_documented_policy(page: Page, app, seeded,
                                                                   live_server, offsite):
    offsite.allow("js.stripe.com")
    served = []

    def stripe_js(route: Route) -> None:
        served.append(route.request.url)
        route.fulfill(status=200, content_type="text/javascript", body=STRIPE_JS)

    page.route(STRIPE_JS_URL, stripe_js)
    page.add_init_script(CSP_VIOLATIONS)
    scripts = []
    page.on("request", lambda request: scripts.append(request.url)
            if request.resource_type == "script" else None)

    page.goto(live_server.url + "/")
    expect(page.get_by_text("Test mode")).to_have_count(0)
    page.get_by_role("link", name="Buy Basic Package").click()
    page.get_by_label("Your name").fill("Ana Silva")
    page.get_by_label("Email").fill("ana@example.com")
    with page.expect_response(lambda r: "/pay" in r.url) as answer:
        page.get_by_role("button", name="Continue to payment").click()

    pay_page = answer.value
    assert pay_page.status == 200
    assert pay_page.headers["content-security-policy"] == STRIPE_CSP
    expect(page.get_by_role("button", name="Pay €75.00")).to_be_enabled()
    assert served == [STRIPE_JS_URL]
    assert page.locator(f'script[src="{STRIPE_JS_URL}"]').count() == 1
    assert not [url for url in scripts if "stripe-test-mode" in url]
    assert page.locator('script[src*="stripe-test-mode"]').count() == 0
    assert page.evaluate("window.stripeCalls") == [
        ["Stripe", PUBLISHABLE_KEY], ["elements", CLIENT_SECRET], ["create", "payment"],
        ["mount", "#payment-element"]]
    assert page.evaluate("window.cspViolations") == []
    expect(page.get_by_text("Test mode")).to_have_count(0)
