"""Card testing: declines are counted per purchase, client IP and email from that IP (and per
email from every IP, at a higher limit); past a limit within the window, starting or
confirming a purchase is refused with 429 for a cool-down."""

from __future__ import annotations

import re

import pytest

from storefront.extensions import db
from storefront.models import LedgerEntry, Purchase
from tests.conftest import csrf_token, log_in
from tests.support import INITIATE_URL, deliver, pay, start_purchase

ATTACKER_IP = "203.0.113.7"
OTHER_IP = "198.51.100.20"
COOL_DOWN = re.compile(r"Too many declined payments; try again in \d+ minutes?\.")


@pytest.fixture
def limited_app(make_app):
    return make_app(PAYMENT_DECLINE_LIMIT=3, PAYMENT_DECLINE_LIMIT_EMAIL=6,
                    PAYMENT_DECLINE_WINDOW_MINUTES=60)


@pytest.fixture
def plan_id(limited_app, seeded_with):
    return seeded_with(limited_app)


def browser(app, ip: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def start_on_page(client, plan_id: int, email: str = "ana@example.com"):
    return client.post(f"/checkout/{plan_id}", data={
        "csrf_token": csrf_token(client, f"/checkout/{plan_id}"), "name": "Ana Silva",
        "email": email})


def client_secret(client, pay_url: str) -> str:
    html = client.get(pay_url).get_data(as_text=True)
    return re.search(r'data-client-secret="([^"]+)"', html).group(1)


def confirm(client, secret: str, card: str):
    return client.post("/checkout/test-mode/confirm",
                       json={"client_secret": secret, "card_number": card},
                       headers={"X-CSRFToken": csrf_token(client)})


def initiate(client, plan_id: int, email: str):
    return client.post(INITIATE_URL, json={
        "plan_id": plan_id, "student_info": {"name": "Ana Silva", "email": email}})


def credited(app) -> int:
    with app.app_context():
        return sum(db.session.scalars(db.select(LedgerEntry.minutes)))


def test_declines_on_one_purchase_lead_to_a_cool_down(limited_app, plan_id):
    attacker = browser(limited_app, ATTACKER_IP)
    started = start_on_page(attacker, plan_id, email="tester@example.com")
    pay_url = started.headers["Location"]
    secret = client_secret(attacker, pay_url)
    for _ in range(3):
        declined = confirm(attacker, secret, "4000000000000002")
        assert declined.status_code == 200
        assert declined.get_json()["error"]["code"] == "card_declined"

    # The next confirmation, even with a good card, is refused: nothing is charged.
    refused = confirm(attacker, secret, "4242424242424242")
    assert refused.status_code == 429
    assert COOL_DOWN.fullmatch(refused.get_json()["error"]["message"])
    assert int(refused.headers["Retry-After"]) > 0
    assert credited(limited_app) == 0

    # The payment page shows the cool-down instead of the Payment Element.
    page = attacker.get(pay_url)
    assert page.status_code == 429
    assert COOL_DOWN.search(page.get_data(as_text=True))
    assert 'id="payment-form"' not in page.get_data(as_text=True)

    # Starting again from the same address, even for someone else, is refused too.
    on_page = start_on_page(attacker, plan_id, email="someone-else@example.com")
    assert on_page.status_code == 429
    assert COOL_DOWN.search(on_page.get_data(as_text=True))
    by_api = initiate(attacker, plan_id, "third@example.com")
    assert by_api.status_code == 429 and int(by_api.headers["Retry-After"]) > 0
    body = by_api.get_json()
    assert body["success"] is False and body["error_type"] == "too_many_declines"
    assert COOL_DOWN.fullmatch(body["message"])

    # Elsewhere, the same email (its owner, perhaps) and someone else may still start.
    assert initiate(browser(limited_app, OTHER_IP), plan_id, "tester@example.com"
                    ).status_code == 201
    assert initiate(browser(limited_app, OTHER_IP), plan_id, "owner@example.com"
                    ).status_code == 201
    with limited_app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Purchase)) == 3


def test_a_logged_in_student_is_held_to_the_same_limit(limited_app, plan_id, make_user):
    make_user("sam@example.com")
    student = browser(limited_app, ATTACKER_IP)
    log_in(student, "sam@example.com")
    for _ in range(3):
        started = start_on_page(student, plan_id)
        assert started.status_code == 302
        secret = client_secret(student, started.headers["Location"])
        assert confirm(student, secret, "4000000000009995").get_json()["error"][
            "decline_code"] == "insufficient_funds"
    assert start_on_page(student, plan_id).status_code == 429
    api = student.post(INITIATE_URL, json={
        "plan_id": plan_id, "student_info": {"name": "Sam", "email": "sam@example.com"}},
        headers={"X-CSRFToken": csrf_token(student)})
    assert api.status_code == 429 and api.get_json()["error_type"] == "too_many_declines"


def test_webhook_and_complete_page_count_each_decline_once(limited_app, plan_id,
                                                           stripe_emulator):
    """Declines reported by Stripe (paid through Stripe.js, not our route) count against the
    IP that started the purchase; a redelivered event or a reload counts nothing more."""
    buyer = browser(limited_app, ATTACKER_IP)
    webhook = limited_app.test_client()  # Stripe: no buyer IP
    started = initiate(buyer, plan_id, "tester@example.com").get_json()
    intent_id, secret = started["payment_intent_id"], started["client_secret"]

    declined = pay(stripe_emulator, intent_id, "pm_card_visa_chargeDeclined")
    assert declined["last_payment_error"]["decline_code"] == "generic_decline"
    for event_id in ("evt_first", "evt_first", "evt_second_delivery"):
        assert deliver(webhook, "payment_intent.payment_failed", declined,
                       event_id=event_id).status_code == 200
    complete = (f"/checkout/complete?payment_intent={intent_id}"
                f"&payment_intent_client_secret={secret}")
    for _ in range(3):
        assert buyer.get(complete).status_code == 200
    # One decline so far (limit 3): others from the same address may still start.
    assert initiate(buyer, plan_id, "next@example.com").status_code == 201

    declined = pay(stripe_emulator, intent_id, "pm_card_visa_chargeDeclinedLostCard")
    assert deliver(webhook, "payment_intent.payment_failed", declined).status_code == 200
    pay(stripe_emulator, intent_id, "pm_card_chargeCustomerFail")
    assert buyer.get(complete).status_code == 200  # the webhook of this one was lost
    refused = initiate(buyer, plan_id, "fresh@example.com")
    assert refused.status_code == 429 and refused.get_json()["error_type"] == "too_many_declines"


def declined_by_webhook(app, emulator, intent_id: str) -> None:
    """One decline paid straight at Stripe (as Stripe.js does) and reported by its webhook."""
    declined = pay(emulator, intent_id, "pm_card_visa_chargeDeclined")
    assert deliver(app.test_client(), "payment_intent.payment_failed", declined
                   ).status_code == 200


def test_a_stranger_declining_for_carol_does_not_block_carol_elsewhere(
        limited_app, plan_id, make_user, stripe_emulator):
    make_user("carol@example.com", "Carol")
    for _ in range(3):
        stranger = browser(limited_app, ATTACKER_IP)
        started = start_purchase(stranger, plan_id, "carol@example.com")
        declined_by_webhook(limited_app, stripe_emulator, started["payment_intent_id"])
    assert initiate(browser(limited_app, ATTACKER_IP), plan_id, "carol@example.com"
                    ).status_code == 429

    carol = browser(limited_app, OTHER_IP)
    log_in(carol, "carol@example.com")
    started = start_on_page(carol, plan_id)
    assert started.status_code == 302
    secret = client_secret(carol, started.headers["Location"])
    paid = confirm(carol, secret, "4242424242424242")
    assert paid.get_json()["paymentIntent"]["status"] == "succeeded"
    api = carol.post(INITIATE_URL, json={
        "plan_id": plan_id, "student_info": {"name": "Carol", "email": "carol@example.com"}},
        headers={"X-CSRFToken": csrf_token(carol)})
    assert api.status_code == 201


def test_many_declines_for_one_email_from_many_addresses_block_it(
        limited_app, plan_id, stripe_emulator):
    for n in range(6):  # one decline from each of six addresses: no address reaches 3
        client = browser(limited_app, f"192.0.2.{n + 1}")
        started = start_purchase(client, plan_id, "carol@example.com")
        declined_by_webhook(limited_app, stripe_emulator, started["payment_intent_id"])
        if n == 4:
            assert initiate(browser(limited_app, OTHER_IP), plan_id, "carol@example.com"
                            ).status_code == 201
    refused = initiate(browser(limited_app, OTHER_IP), plan_id, "Carol@Example.com")
    assert refused.status_code == 429 and refused.get_json()["error_type"] == "too_many_declines"
    assert initiate(browser(limited_app, OTHER_IP), plan_id, "dave@example.com").status_code == 201


def authentication_failed(emulator, intent_id: str, client_secret: str) -> dict:
    """A payment that fails 3-D Secure: declined with no charge, as Stripe reports it."""
    stripe_client = emulator.client()
    method = stripe_client.v1.payment_methods.create(params={
        "type": "card", "card": {"number": "4000002760003184", "exp_month": 12,
                                 "exp_year": 2030, "cvc": "123"}})
    stripe_client.v1.payment_intents.update(intent_id, params={"payment_method": method.id})
    assert stripe_client.v1.payment_intents.confirm(intent_id).status == "requires_action"
    stripe_client.raw_request("post", f"/v1/payment_intents/{intent_id}/_authenticate",
                              client_secret=client_secret, success="false")
    return stripe_client.v1.payment_intents.retrieve(intent_id).to_dict()


def test_each_failed_authentication_counts(limited_app, plan_id, stripe_emulator):
    buyer = browser(limited_app, ATTACKER_IP)
    started = start_purchase(buyer, plan_id, "tester@example.com")
    for _ in range(3):
        failed = authentication_failed(stripe_emulator, started["payment_intent_id"],
                                       started["client_secret"])
        assert "charge" not in failed["last_payment_error"]
        assert deliver(limited_app.test_client(), "payment_intent.payment_failed", failed
                       ).status_code == 200
    refused = initiate(buyer, plan_id, "someone@example.com")
    assert refused.status_code == 429 and refused.get_json()["error_type"] == "too_many_declines"


def test_declines_count_against_the_address_that_started_the_purchase(
        limited_app, plan_id, stripe_emulator):
    buyer = browser(limited_app, ATTACKER_IP)
    started = start_purchase(buyer, plan_id, "tester@example.com")
    buyer.environ_base["REMOTE_ADDR"] = OTHER_IP  # the same browser, now elsewhere
    reused = start_purchase(buyer, plan_id, "tester@example.com")
    assert reused["transaction_id"] == started["transaction_id"]
    for _ in range(3):
        declined_by_webhook(limited_app, stripe_emulator, started["payment_intent_id"])
    assert initiate(browser(limited_app, ATTACKER_IP), plan_id, "x@example.com"
                    ).status_code == 429
    assert initiate(browser(limited_app, OTHER_IP), plan_id, "y@example.com").status_code == 201


def blocked_attacker(app, plan_id: int, card: str):
    """A browser whose purchase for tester@example.com had three declines with `card`, so
    it is cooling down; returns the browser and the PaymentIntent's client secret."""
    attacker = browser(app, ATTACKER_IP)
    started = start_on_page(attacker, plan_id, email="tester@example.com")
    secret = client_secret(attacker, started.headers["Location"])
    for _ in range(3):
        confirm(attacker, secret, card)
    return attacker, secret


def staff_client(app, make_user):
    make_user("staff@example.com", staff=True)
    staff = app.test_client()
    log_in(staff, "staff@example.com")
    return staff


def test_staff_see_declines_and_blocks(limited_app, plan_id, make_user):
    attacker, _ = blocked_attacker(limited_app, plan_id, "4000000000009987")
    assert start_on_page(attacker, plan_id, email="x@example.com").status_code == 429

    staff = staff_client(limited_app, make_user)
    assert "/staff/declines" in staff.get("/staff").get_data(as_text=True)
    page = staff.get("/staff/declines")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    blocked = html.split('id="blocked"')[1].split("</section>")[0]
    assert "tester@example.com" in blocked and ATTACKER_IP in blocked
    with limited_app.app_context():
        purchase_id = db.session.scalars(db.select(Purchase.id)).one()
    assert f"#{purchase_id}" in blocked
    recent = html.split('id="recent-declines"')[1]
    assert recent.count("lost_card") == 3
    # Students cannot see it.
    make_user("sam@example.com")
    student = limited_app.test_client()
    log_in(student, "sam@example.com")
    assert student.get("/staff/declines").status_code == 403


def test_test_mode_confirm_is_rate_limited(make_app, seeded_with):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_TEST_MODE_CONFIRM="3 per minute",
                   PAYMENT_DECLINE_LIMIT=100)
    plan_id = seeded_with(app)
    client = browser(app, ATTACKER_IP)
    started = start_on_page(client, plan_id)
    secret = client_secret(client, started.headers["Location"])
    statuses = [confirm(client, secret, "4000000000000002").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = confirm(client, secret, "4242424242424242")
    assert limited.status_code == 429 and limited.get_json()["error"]["message"]
    assert credited(app) == 0


def test_staff_see_each_refused_attempt(limited_app, plan_id, make_user):
    attacker, secret = blocked_attacker(limited_app, plan_id, "4000000000000002")
    assert start_on_page(attacker, plan_id, email="x@example.com").status_code == 429
    assert initiate(attacker, plan_id, "y@example.com").status_code == 429
    assert confirm(attacker, secret, "4242424242424242").status_code == 429

    staff = staff_client(limited_app, make_user)
    html = staff.get("/staff/declines").get_data(as_text=True)
    refused = html.split('id="refused-attempts"')[1].split("</section>")[0]
    assert refused.count(ATTACKER_IP) == 3
    assert "x@example.com" in refused and "y@example.com" in refused
    assert "Start a purchase (page)" in refused and "Start a purchase (API)" in refused
    assert "Confirm a payment" in refused
    assert credited(limited_app) == 0


def test_test_mode_confirm_limit_covers_an_ipv6_network(make_app, seeded_with):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_TEST_MODE_CONFIRM="2 per minute",
                   PAYMENT_DECLINE_LIMIT=100)
    plan_id = seeded_with(app)
    starter = browser(app, "2001:db8:7:7::1")
    secret = client_secret(starter, start_on_page(starter, plan_id).headers["Location"])
    statuses = [confirm(browser(app, f"2001:db8:7:7::{n:x}"), secret, "4000000000000002"
                        ).status_code for n in range(10, 13)]
    assert statuses == [200, 200, 429]


def test_declines_from_one_ipv6_network_cool_it_down_together(limited_app, plan_id):
    attacker = browser(limited_app, "2001:db8:6:6::1")
    started = start_on_page(attacker, plan_id, email="tester@example.com")
    secret = client_secret(attacker, started.headers["Location"])
    for n in range(3):
        declined = confirm(browser(limited_app, f"2001:db8:6:6::{n + 2:x}"), secret,
                           "4000000000000002")
        assert declined.get_json()["error"]["code"] == "card_declined"
    neighbour = browser(limited_app, "2001:db8:6:6:ffff::1")
    assert initiate(neighbour, plan_id, "someone-else@example.com").status_code == 429
    elsewhere = browser(limited_app, "2001:db8:6:7::1")
    assert initiate(elsewhere, plan_id, "owner@example.com").status_code == 201


@pytest.mark.parametrize("payload", [[1], "text", 7])
def test_test_mode_confirm_refuses_a_body_that_is_not_an_object(client, payload):
    response = client.post("/checkout/test-mode/confirm", json=payload,
                           headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
