"""Checkout pages: details, the Payment Element page, test-mode confirmation, completion."""

from __future__ import annotations

import re

import pytest

from storefront.extensions import db
from storefront.ledger import verify_ledger
from storefront.models import LedgerEntry, Purchase, User
from tests.conftest import csrf_token, log_in
from tests.support import pay


def purchases(app) -> list[Purchase]:
    with app.app_context():
        return db.session.scalars(db.select(Purchase)).all()


def credited_minutes(app, email) -> int:
    with app.app_context():
        assert verify_ledger() == []  # first, in a snapshot of its own
        user = db.session.scalars(db.select(User).where(User.email == email)).one()
        return sum(db.session.scalars(
            db.select(LedgerEntry.minutes).where(LedgerEntry.student_id == user.id)))


def start_as_guest(client, plan_id, name="Ana Silva", email="ana@example.com"):
    token = csrf_token(client, f"/checkout/{plan_id}")
    return client.post(f"/checkout/{plan_id}",
                       data={"csrf_token": token, "name": name, "email": email})


def test_checkout_page_shows_the_plan_and_asks_a_guest_for_details(client, seeded):
    html = client.get(f"/checkout/{seeded['Basic Package']}").get_data(as_text=True)
    assert "Basic Package" in html and "€75.00" in html and "5 hours" in html
    assert "30 days" in html
    assert 'name="name"' in html and 'name="email"' in html
    assert "Test mode" in html


def test_logged_in_student_is_not_asked_for_details(app, client, seeded, make_user):
    user_id = make_user("sam@example.com", "Sam Student")
    log_in(client, "sam@example.com")
    plan_id = seeded["Basic Package"]
    html = client.get(f"/checkout/{plan_id}").get_data(as_text=True)
    assert 'name="email"' not in html and "Buying as" in html
    response = client.post(f"/checkout/{plan_id}",
                           data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    [purchase] = purchases(app)
    assert purchase.student_id == user_id


def test_invalid_details_are_shown_and_nothing_is_created(app, client, seeded):
    response = start_as_guest(client, seeded["Basic Package"], name="<b>Ana</b>",
                              email="nope")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Enter a valid email address." in html and "Use only letters" in html
    assert "&lt;b&gt;Ana&lt;/b&gt;" in html  # echoed back escaped, never as markup
    assert purchases(app) == []


def test_post_without_csrf_token_is_refused(app, client, seeded):
    response = client.post(f"/checkout/{seeded['Basic Package']}",
                           data={"name": "Ana", "email": "ana@example.com"})
    assert response.status_code == 400
    assert purchases(app) == []


def test_unsynced_subscription_and_missing_plans_cannot_be_bought(client, seeded):
    html = client.get(f"/checkout/{seeded['Monthly Unlimited']}").get_data(as_text=True)
    assert "not available right now" in html and 'name="email"' not in html
    missing = client.get("/checkout/99999")
    assert missing.status_code == 404 and "Page not found" in missing.get_data(as_text=True)


def test_guest_reaches_the_payment_element_page(app, client, seeded):
    response = start_as_guest(client, seeded["Basic Package"])
    assert response.status_code == 302
    [purchase] = purchases(app)
    assert response.headers["Location"] == f"/checkout/purchase/{purchase.id}/pay"
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert 'data-publishable-key="pk_test_emulator"' in html
    assert f'data-client-secret="{purchase.payment_intent_id}_secret_' in html
    assert 'data-return-url="http://localhost/checkout/complete"' in html
    assert "js/stripe-test-mode.js" in html and "js/checkout.js" in html
    assert "js.stripe.com" not in html
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None  # no inline script
    # Another browser cannot open this purchase's payment page.
    assert app.test_client().get(response.headers["Location"]).status_code == 404


def _client_secret(client, app) -> tuple[str, str]:
    [purchase] = purchases(app)
    html = client.get(f"/checkout/purchase/{purchase.id}/pay").get_data(as_text=True)
    return purchase.payment_intent_id, re.search(r'data-client-secret="([^"]+)"', html).group(1)


def _confirm(client, client_secret, card):
    return client.post("/checkout/test-mode/confirm",
                       json={"client_secret": client_secret, "card_number": card},
                       headers={"X-CSRFToken": csrf_token(client)})


def test_test_mode_confirm_pays_then_the_complete_page_credits(app, client, seeded):
    start_as_guest(client, seeded["Basic Package"])
    intent_id, secret = _client_secret(client, app)
    confirmed = _confirm(client, secret, "4242 4242 4242 4242").get_json()
    assert confirmed["paymentIntent"]["status"] == "succeeded"

    page = client.get(f"/checkout/complete?payment_intent={intent_id}"
                      f"&payment_intent_client_secret={secret}&redirect_status=succeeded")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-payment-status="succeeded"' in html and "Payment received" in html
    assert "5 hours" in html and "ana@example.com" in html
    assert credited_minutes(app, "ana@example.com") == 300
    # Reloading the page changes nothing.
    client.get(f"/checkout/complete?payment_intent={intent_id}"
               f"&payment_intent_client_secret={secret}")
    assert credited_minutes(app, "ana@example.com") == 300


def test_declined_card_is_reported_in_stripe_js_shape_and_can_be_retried(app, client, seeded):
    start_as_guest(client, seeded["Basic Package"])
    intent_id, secret = _client_secret(client, app)
    declined = _confirm(client, secret, "4000000000000341").get_json()
    assert declined["error"]["type"] == "card_error"
    assert declined["error"]["code"]
    assert "declined" in declined["error"]["message"].lower()

    page = client.get(f"/checkout/complete?payment_intent={intent_id}"
                      f"&payment_intent_client_secret={secret}")
    html = page.get_data(as_text=True)
    assert 'data-payment-status="requires_payment_method"' in html and "Try again" in html
    assert credited_minutes(app, "ana@example.com") == 0

    retried = _confirm(client, secret, "4242424242424242").get_json()
    assert retried["paymentIntent"]["status"] == "succeeded"
    client.get(f"/checkout/complete?payment_intent={intent_id}"
               f"&payment_intent_client_secret={secret}")
    assert credited_minutes(app, "ana@example.com") == 300


def test_test_mode_confirm_refuses_bad_input(app, client, seeded):
    start_as_guest(client, seeded["Basic Package"])
    _, secret = _client_secret(client, app)
    unknown_card = _confirm(client, secret, "1234123412341234").get_json()
    assert unknown_card["error"]["type"] == "validation_error"
    wrong_secret = _confirm(client, secret[:-3] + "xyz", "4242424242424242")
    assert wrong_secret.status_code == 404
    no_csrf = client.post("/checkout/test-mode/confirm",
                          json={"client_secret": secret, "card_number": "4242424242424242"})
    assert no_csrf.status_code == 400
    assert credited_minutes(app, "ana@example.com") == 0


def test_complete_page_checks_the_client_secret(app, client, seeded, stripe_emulator):
    start_as_guest(client, seeded["Basic Package"])
    intent_id, secret = _client_secret(client, app)
    pay(stripe_emulator, intent_id)
    forged = client.get(f"/checkout/complete?payment_intent={intent_id}"
                        f"&payment_intent_client_secret={intent_id}_secret_forged")
    assert forged.status_code == 403
    assert credited_minutes(app, "ana@example.com") == 0
    unknown = client.get(f"/checkout/complete?payment_intent=pi_unknown"
                         f"&payment_intent_client_secret={secret}")
    assert unknown.status_code == 404
    assert client.get("/checkout/complete").status_code == 400


def test_complete_page_ignores_a_redirect_status_that_lies(app, client, seeded):
    start_as_guest(client, seeded["Basic Package"])
    intent_id, secret = _client_secret(client, app)  # never paid
    html = client.get(f"/checkout/complete?payment_intent={intent_id}"
                      f"&payment_intent_client_secret={secret}&redirect_status=succeeded"
                      ).get_data(as_text=True)
    assert 'data-payment-status="requires_payment_method"' in html
    assert "Payment received" not in html
    assert credited_minutes(app, "ana@example.com") == 0


def test_canceled_payment_shows_cancelled(app, client, seeded, stripe_emulator):
    start_as_guest(client, seeded["Basic Package"])
    intent_id, secret = _client_secret(client, app)
    stripe_emulator.client().v1.payment_intents.cancel(intent_id)
    html = client.get(f"/checkout/complete?payment_intent={intent_id}"
                      f"&payment_intent_client_secret={secret}").get_data(as_text=True)
    assert 'data-payment-status="canceled"' in html and "cancelled" in html
    assert [p.status for p in purchases(app)] == ["cancelled"]


@pytest.mark.parametrize(("path", "status", "text"), [
    ("/no-such-page", 404, "Page not found"),
    ("/api/finances/api/no-such-endpoint/", 404, '{"detail":"Not found."}'),
])
def test_error_pages(client, path, status, text):
    response = client.get(path)
    assert response.status_code == status
    assert text in response.get_data(as_text=True)


def test_405_page_and_json(client):
    page = client.put("/")
    assert page.status_code == 405 and "Not allowed" in page.get_data(as_text=True)
    assert client.delete("/api/finances/api/pricing-plans/").get_json() == {
        "detail": "Method not allowed."}


def test_unexpected_error_shows_a_page_without_a_trace(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    def explode():
        raise RuntimeError("secret internals sk_test_emulator")

    app.add_url_rule("/explode", view_func=explode)
    app.add_url_rule("/api/explode", view_func=explode, endpoint="api_explode")
    client = app.test_client()
    page = client.get("/explode")
    assert page.status_code == 500 and "Something went wrong" in page.get_data(as_text=True)
    assert "secret internals" not in page.get_data(as_text=True)
    assert client.get("/api/explode").get_json() == {"detail": "A server error occurred."}


def test_real_stripe_mode_has_no_test_mode_route(make_app):
    app = make_app(STRIPE_API_BASE=None, STRIPE_SECRET_KEY="sk_test_real",
                   STRIPE_PUBLISHABLE_KEY="pk_test_real")
    client = app.test_client()
    # The retrieve route answers 404 for a bad secret too, so look at the routes themselves.
    assert not [rule.rule for rule in app.url_map.iter_rules() if "test-mode" in rule.rule]
    response = client.get("/")
    assert "https://js.stripe.com" in response.headers["Content-Security-Policy"]
    assert "Test mode" not in response.get_data(as_text=True)


def test_payment_page_explains_a_stripe_outage(make_app, seeded_with, stripe_stub):
    from tests.support import stripe_error

    app = make_app(STRIPE_API_BASE=stripe_stub.base_url)
    plan_id = seeded_with(app)
    stripe_stub.respond(200, {
        "id": "pi_stub", "object": "payment_intent", "status": "requires_payment_method",
        "amount": 7500, "currency": "eur", "client_secret": "pi_stub_secret_abc",
        "metadata": {}})
    client = app.test_client()
    started = start_as_guest(client, plan_id)
    assert started.status_code == 302

    stripe_stub.respond(500, stripe_error("api_error", "internal detail from Stripe"))
    page = client.get(started.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 502
    assert "The payment service had a problem" in html and "internal detail" not in html


def test_checkout_page_is_rate_limited_with_an_html_page(make_app, seeded_with):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_INITIATE_IP="2 per hour",
                   RATELIMIT_INITIATE_EMAIL="50 per hour")
    plan_id = seeded_with(app)
    client = app.test_client()
    statuses = [start_as_guest(client, plan_id, email=f"g{n}@example.com").status_code
                for n in range(3)]
    assert statuses == [302, 302, 429]
    limited = start_as_guest(client, plan_id, email="g9@example.com")
    assert "Too many attempts" in limited.get_data(as_text=True)
    assert int(limited.headers["Retry-After"]) > 0
    assert len(purchases(app)) == 2


def test_pay_page_after_a_payment_whose_webhook_is_late_settles_it(app, client, seeded,
                                                                    stripe_emulator):
    response = start_as_guest(client, seeded["Basic Package"])
    [purchase] = purchases(app)
    pay(stripe_emulator, purchase.payment_intent_id)
    page = client.get(response.headers["Location"])
    assert page.status_code == 302
    assert page.headers["Location"].startswith(
        f"/checkout/complete?payment_intent={purchase.payment_intent_id}"
        f"&payment_intent_client_secret={purchase.payment_intent_id}_secret_")
    html = client.get(page.headers["Location"]).get_data(as_text=True)
    assert "Payment received" in html and "Start again" not in html
    assert credited_minutes(app, "ana@example.com") == 300


@pytest.mark.parametrize("path", ["/checkout/100000000000000000000000",
                                  "/checkout/purchase/99999999999999999999/pay",
                                  "/checkout/0"])
def test_huge_or_zero_ids_are_404_not_500(client, path):
    assert client.get(path).status_code == 404


def test_a_stranger_cannot_block_someone_elses_checkout(make_app, seeded_with, make_user):
    app = make_app(RATELIMIT_ENABLED=True)  # the default limits
    plan_id = seeded_with(app)
    make_user("carol@example.com")
    stranger = app.test_client()
    stranger.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    statuses = [start_as_guest(stranger, plan_id, email="carol@example.com").status_code
                for _ in range(12)]
    assert statuses[0] == 302 and statuses[-1] == 429

    carol = app.test_client()
    carol.environ_base["REMOTE_ADDR"] = "203.0.113.20"
    log_in(carol, "carol@example.com")
    assert start_as_guest(carol, plan_id).status_code == 302


def test_complete_page_credits_a_purchase_with_a_huge_validity(app, client, seeded):
    start_as_guest(client, seeded["Basic Package"])
    intent_id, secret = _client_secret(client, app)
    with app.app_context():
        db.session.scalars(db.select(Purchase)).one().validity_days = 3_000_000
        db.session.commit()
    assert _confirm(client, secret, "4242 4242 4242 4242").status_code == 200
    page = client.get(f"/checkout/complete?payment_intent={intent_id}"
                      f"&payment_intent_client_secret={secret}&redirect_status=succeeded")
    assert page.status_code == 200 and "Payment received" in page.get_data(as_text=True)
    assert credited_minutes(app, "ana@example.com") == 300
