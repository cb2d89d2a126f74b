"""CSRF across the whole URL map: every state-changing route refuses a request without the
session's CSRF token, for a logged-in student and a logged-in staff member; the JSON API
refuses an anonymous POST that is not JSON (a cross-site form cannot send JSON). The Stripe
webhook, signed by Stripe, is the only route exempt. A route added later is walked too, so a
new exemption fails here until it is listed (and argued for) in EXEMPT."""

from __future__ import annotations

import pytest
from werkzeug.routing.converters import NumberConverter

from storefront.api.views import PREFIX as API_PREFIX
from tests.conftest import log_in

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
# endpoint -> why it may take a POST without the session's CSRF token.
EXEMPT = {
    "webhooks.stripe_webhook": "Stripe signs each delivery (Stripe-Signature); no session",
    # It only picks the currency prices are shown in, from the plans page, which stays
    # session-less (cacheable) and so has no token: the request's origin is checked instead
    # (tests/catalog/test_currency_choice.py).
    "catalog.choose_currency": "same-origin check (Sec-Fetch-Site, Origin or Referer)",
}


def _state_changing_rules(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every state-changing method of every route."""
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(set(rule.methods or ()) & set(STATE_CHANGING)):
            values = {name: _sample(converter)
                      for name, converter in rule._converters.items()}
            with app.test_request_context():
                url = app.url_for(rule.endpoint, **values)
            found.append((rule.endpoint, method, url))
    return sorted(found)


def _sample(converter) -> object:
    """A value the URL variable accepts (the route is reached, whatever the object)."""
    return 1 if isinstance(converter, NumberConverter) else "sample"


def _is_csrf_refusal(response) -> bool:
    """The site's CSRF answer: the 'form expired' page (400), or the API's 403 detail."""
    if response.is_json:
        body = response.get_json(silent=True) or {}
        return response.status_code == 403 and str(body.get("detail", "")).startswith(
            "CSRF Failed")
    return response.status_code == 400 and "Your form expired" in response.get_data(
        as_text=True)


@pytest.fixture
def walked_app(make_app):
    """An app with CSRF on (as in production) and the test-mode routes registered."""
    return make_app(WTF_CSRF_ENABLED=True)


@pytest.fixture
def logged_in(walked_app, make_user):
    """logged_in(role)() -> a new test client logged in as the student or the staff member:
    one per request, so that a route that got through (a logout) cannot end the session
    the rest of the walk relies on."""
    def clients_for(role: str):
        email = f"{role}@example.com"
        make_user(email, role.title(), staff=role == "staff")

        def new_client():
            client = walked_app.test_client()
            log_in(client, email)
            return client

        return new_client

    return clients_for


def test_the_walk_sees_every_state_changing_route(walked_app):
    walked = {endpoint for endpoint, _, _ in _state_changing_rules(walked_app)}
    # A sample of what must be there: if the walk found nothing, it proved nothing.
    assert {"account.logout", "staff.refund", "api.purchase_initiate",
            "api_staff.consume", "subscription.cancel", "test_mode.confirm",
            "webhooks.stripe_webhook"} <= walked
    assert set(EXEMPT) <= walked, "an exemption is listed for a route that no longer exists"


@pytest.mark.parametrize("role", ["student", "staff"])
def test_every_state_changing_route_refuses_a_missing_token_when_logged_in(
        walked_app, logged_in, role):
    new_client = logged_in(role)
    accepted = []
    for endpoint, method, url in _state_changing_rules(walked_app):
        if endpoint in EXEMPT:
            continue
        for kwargs in ({"data": {"email": "x@example.com"}},
                       {"json": {"email": "x@example.com"}}):
            response = new_client().open(url, method=method, **kwargs)
            if not _is_csrf_refusal(response):
                accepted.append(f"{method} {url} ({endpoint}, "
                                f"{'json' if 'json' in kwargs else 'form'}): "
                                f"{response.status_code}")
    assert accepted == [], "state-changing routes that took no CSRF token:\n" + "\n".join(
        accepted)


@pytest.mark.parametrize("role", ["student", "staff"])
def test_a_token_of_another_session_is_refused_too(walked_app, logged_in, role):
    other = walked_app.test_client()
    html = other.get("/account/login").get_data(as_text=True)
    foreign = html.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    new_client = logged_in(role)
    accepted = []
    for endpoint, method, url in _state_changing_rules(walked_app):
        if endpoint in EXEMPT:
            continue
        response = new_client().open(url, method=method, data={"csrf_token": foreign},
                               headers={"X-CSRFToken": foreign})
        if not _is_csrf_refusal(response):
            accepted.append(f"{method} {url} ({endpoint}): {response.status_code}")
    assert accepted == []


def test_anonymous_site_forms_need_a_token_and_the_api_needs_json(walked_app):
    client = walked_app.test_client()
    accepted = []
    for endpoint, method, url in _state_changing_rules(walked_app):
        if endpoint in EXEMPT:
            continue
        response = client.open(url, method=method, data={"email": "x@example.com"})
        if url.startswith(API_PREFIX + "/"):
            refused = response.status_code == 415
        else:
            refused = _is_csrf_refusal(response)
        if not refused:
            accepted.append(f"{method} {url} ({endpoint}): {response.status_code}")
    assert accepted == [], "anonymous cross-site form posts that got through:\n" + "\n".join(
        accepted)


def test_only_the_listed_routes_are_exempt(walked_app):
    """Exemptions declared on the extension: the webhook, and the API's blueprints (which
    check the token themselves for a logged-in caller, as the walk above shows)."""
    csrf = walked_app.extensions["csrf"]
    exempt_views = {
        endpoint for endpoint, view in walked_app.view_functions.items()
        if f"{view.__module__}.{view.__name__}" in csrf._exempt_views
    }
    assert exempt_views == set(EXEMPT)
    api_blueprints = {name for name, blueprint in walked_app.blueprints.items()
                      if (blueprint.url_prefix or "").startswith(API_PREFIX)}
    assert {blueprint.name for blueprint in csrf._exempt_blueprints} == api_blueprints
