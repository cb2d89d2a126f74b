"""POST /api/finances/api/purchase/initiate/: validation, the Stripe error table, reuse."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storefront.extensions import db
from storefront.models import PricingPlan, Purchase, User
from tests.conftest import log_in
from tests.support import Emulator, stripe_error

URL = "/api/finances/api/purchase/initiate/"


def body(plan_id, name="Ana Silva", email="ana@example.com", **extra):
    return {"plan_id": plan_id, "student_info": {"name": name, "email": email}, **extra}


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_guest_initiate_creates_pending_purchase_and_payment_intent(
    app, client, seeded, stripe_emulator
):
    plan_id = seeded["Basic Package"]
    response = client.post(URL, json=body(
        plan_id, email="  Ana@Example.COM ", amount=1, price_eur="0.01", price="0.01"))
    assert response.status_code == 201
    data = response.get_json()
    assert data["success"] is True
    assert data["client_secret"].startswith(data["payment_intent_id"] + "_secret_")
    assert data["plan_details"] == {
        "id": plan_id, "name": "Basic Package", "description": data["plan_details"]["description"],
        "plan_type": "package", "hours_included": "5.00", "price_eur": "75.00",
        "price": "75.00", "currency": "eur", "validity_days": 30, "price_per_hour": "15.00",
    }
    assert data["message"]

    # The amount comes from the plan, never from the client.
    intent = stripe_emulator.client().v1.payment_intents.retrieve(data["payment_intent_id"])
    assert (intent.amount, intent.currency) == (7500, "eur")
    assert intent.metadata["purchase_id"] == str(data["transaction_id"])

    with app.app_context():
        purchase = db.session.get(Purchase, data["transaction_id"])
        assert (purchase.status, purchase.price_minor, purchase.minutes) == ("pending", 7500, 300)
        assert purchase.payment_intent_id == data["payment_intent_id"]
        student = purchase.student
        assert (student.email, student.name, student.password_hash) == (
            "ana@example.com", "Ana Silva", None)
        assert intent.metadata["student_id"] == str(student.id)


def test_repeat_within_30_minutes_reuses_the_pending_purchase(app, client, seeded):
    plan_id = seeded["Basic Package"]
    first = client.post(URL, json=body(plan_id)).get_json()
    again = client.post(URL, json=body(plan_id, email="ANA@example.com")).get_json()
    assert again["transaction_id"] == first["transaction_id"]
    assert again["payment_intent_id"] == first["payment_intent_id"]
    assert again["client_secret"] == first["client_secret"]
    # Another plan is another purchase.
    other = client.post(URL, json=body(seeded["Standard Package"])).get_json()
    assert other["transaction_id"] != first["transaction_id"]
    assert count(app, Purchase) == 2
    assert count(app, User) == 1


def test_pending_purchase_older_than_30_minutes_is_not_reused(app, client, seeded):
    first = client.post(URL, json=body(seeded["Basic Package"])).get_json()
    with app.app_context():
        purchase = db.session.get(Purchase, first["transaction_id"])
        purchase.created_at = purchase.created_at - timedelta(minutes=31)
        db.session.commit()
    again = client.post(URL, json=body(seeded["Basic Package"])).get_json()
    assert again["transaction_id"] != first["transaction_id"]
    assert again["payment_intent_id"] != first["payment_intent_id"]


@pytest.mark.parametrize(
    ("payload", "path", "message"),
    [
        ({"student_info": {"name": "Ana", "email": "a@example.com"}}, "plan_id",
         "This field is required."),
        (body("one"), "plan_id", "A valid integer is required."),
        (body(True), "plan_id", "A valid integer is required."),
        (body(99999), "plan_id", "Pricing plan not found."),
        (body(10**23), "plan_id", "Ensure this value is less than or equal to 2147483647."),
        (body(0), "plan_id", "Pricing plan not found."),
        (body("PLAN", name=""), "student_info.name", "This field is required."),
        (body("PLAN", name="   "), "student_info.name", "This field is required."),
        (body("PLAN", name="A" * 151), "student_info.name", "no more than 150 characters"),
        (body("PLAN", name="<script>alert(1)</script>"), "student_info.name",
         "Use only letters"),
        (body("PLAN", name="Ana\x07Silva"), "student_info.name", "Use only letters"),
        (body("PLAN", name="Ana_Silva"), "student_info.name", "Use only letters"),
        (body("PLAN", name=42), "student_info.name", "This field is required."),
        (body("PLAN", email=""), "student_info.email", "This field is required."),
        (body("PLAN", email="not-an-email"), "student_info.email",
         "Enter a valid email address."),
        (body("PLAN", email="ana@example"), "student_info.email",
         "Enter a valid email address."),
        ({"plan_id": "PLAN", "student_info": "Ana"}, "student_info", "Expected an object"),
    ],
)
def test_invalid_input_is_refused_and_writes_nothing(app, client, seeded, payload, path,
                                                     message):
    if payload.get("plan_id") == "PLAN":
        payload = {**payload, "plan_id": seeded["Basic Package"]}
    response = client.post(URL, json=payload)
    assert response.status_code == 400
    data = response.get_json()
    assert data["success"] is False and data["error_type"] == "validation_error"
    assert message in data["field_errors"][path][0]
    assert data["message"].startswith(f"{next(iter(data['field_errors']))}: ")
    assert count(app, Purchase) == 0 and count(app, User) == 0


def test_missing_student_info_is_reported(client, seeded):
    data = client.post(URL, json={"plan_id": seeded["Basic Package"]}).get_json()
    assert data["field_errors"] == {"student_info": ["This field is required."]}
    assert data["message"] == "student_info: This field is required."


def test_message_names_the_first_failing_path(client):
    data = client.post(URL, json={"student_info": {"name": "", "email": "x"}}).get_json()
    assert list(data["field_errors"]) == ["plan_id", "student_info.name", "student_info.email"]
    assert data["message"] == "plan_id: This field is required."


@pytest.mark.parametrize("name", ["José Ñúñez", "李小龙", "O'Brien-Smith Jr.", "Анна Петрова",
                                  "नमस्ते दुनिया", "Zoë 2"])
def test_names_in_any_script_are_accepted(client, seeded, name):
    response = client.post(URL, json=body(seeded["Basic Package"], name=name))
    assert response.status_code == 201


def test_inactive_plan_is_refused(app, client, seeded):
    with app.app_context():
        db.session.get(PricingPlan, seeded["Basic Package"]).is_active = False
        db.session.commit()
    data = client.post(URL, json=body(seeded["Basic Package"])).get_json()
    assert data["field_errors"]["plan_id"] == ["This plan is not currently active."]
    assert count(app, Purchase) == 0


def test_non_object_body_is_a_validation_error(client):
    response = client.post(URL, data="[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error_type"] == "validation_error"


def test_anonymous_form_post_is_refused_with_415(app, client, seeded):
    response = client.post(URL, data={"plan_id": seeded["Basic Package"]})
    assert response.status_code == 415
    assert "detail" in response.get_json()
    assert count(app, Purchase) == 0


def test_logged_in_post_needs_the_csrf_token(app, client, seeded, make_user):
    user_id = make_user("sam@example.com", "Sam Student")
    log_in(client, "sam@example.com")
    payload = body(seeded["Basic Package"], name="Sam Student", email="sam@example.com")
    refused = client.post(URL, json=payload)
    assert refused.status_code == 403 and "CSRF" in refused.get_json()["detail"]
    assert count(app, Purchase) == 0

    html = client.get("/").get_data(as_text=True)
    token = html.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    accepted = client.post(URL, json=payload, headers={"X-CSRFToken": token})
    assert accepted.status_code == 201
    with app.app_context():
        purchase = db.session.get(Purchase, accepted.get_json()["transaction_id"])
        assert purchase.student_id == user_id


def test_wrong_method_is_405_json(client):
    response = client.get(URL)
    assert response.status_code == 405
    assert response.get_json() == {"detail": "Method not allowed."}


# --- Stripe errors, provoked for real -----------------------------------------------------

def _assert_error(app, response, status, error_type):
    assert response.status_code == status
    data = response.get_json()
    assert data["success"] is False and data["error_type"] == error_type
    text = response.get_data(as_text=True)
    assert "sk_" not in text and "Traceback" not in text and "Request req_" not in text
    assert count(app, Purchase) == 0 and count(app, User) == 0
    return data


def test_stripe_unreachable_is_503(make_app, seeded_with):
    emulator = Emulator()
    app = make_app(STRIPE_API_BASE=emulator.base_url)
    plan_id = seeded_with(app)
    emulator.stop()  # Stripe goes away
    response = app.test_client().post(URL, json=body(plan_id))
    _assert_error(app, response, 503, "api_connection_error")


def test_bad_secret_key_is_500_not_401(make_app, seeded_with):
    app = make_app(STRIPE_SECRET_KEY="sk_x")  # the emulator refuses keys this short
    response = app.test_client().post(URL, json=body(seeded_with(app)))
    data = _assert_error(app, response, 500, "authentication_error")
    assert "configuration" in data["message"]


@pytest.mark.parametrize(
    ("status", "stripe_body", "expected_status", "error_type"),
    [
        (402, stripe_error("card_error", "Your card has insufficient funds.", "card_declined"),
         400, "card_error"),
        (400, stripe_error("invalid_request_error", "Invalid currency: zzz (raw Stripe text)"),
         400, "invalid_request_error"),
        (429, stripe_error("rate_limit_error", "Too many requests (raw Stripe text)"),
         429, "rate_limit_error"),
        (500, stripe_error("api_error", "Something broke inside Stripe (raw Stripe text)"),
         502, "api_error"),
        (200, {"id": "pi_stub", "object": "payment_intent"}, 500, "internal_error"),
    ],
)
def test_stripe_errors_map_to_the_contract(make_app, seeded_with, stripe_stub, status,
                                           stripe_body, expected_status, error_type):
    app = make_app(STRIPE_API_BASE=stripe_stub.base_url)
    stripe_stub.respond(status, stripe_body)
    response = app.test_client().post(URL, json=body(seeded_with(app)))
    data = _assert_error(app, response, expected_status, error_type)
    assert stripe_stub.requests == ["POST /v1/payment_intents"]
    if error_type == "card_error":
        assert data["message"] == "Your card has insufficient funds."
    else:
        assert "raw Stripe text" not in data["message"]


def test_purchases_reuse_one_connection_to_stripe(make_app, seeded_with, stripe_stub,
                                                  stripe_emulator):
    """Stripe is asked over a kept-alive connection, not a new one (and TLS handshake) for
    every purchase."""
    app = make_app(STRIPE_API_BASE=stripe_stub.base_url)
    stripe_stub.forward_to(stripe_emulator)
    plan_id = seeded_with(app)
    client = app.test_client()
    for email in ("ana@example.com", "bo@example.com", "cy@example.com"):
        response = client.post(URL, json={"plan_id": plan_id,
                                          "student_info": {"name": "A", "email": email}})
        assert response.status_code == 201
    assert stripe_stub.requests == ["POST /v1/payment_intents"] * 3
    assert stripe_stub.connections == 1


# --- Rate limits --------------------------------------------------------------------------

def test_anonymous_callers_are_limited_per_ip(make_app, seeded_with):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_INITIATE_IP="3 per hour",
                   RATELIMIT_INITIATE_EMAIL="100 per hour")
    plan_id = seeded_with(app)
    client = app.test_client()
    for n in range(3):
        assert client.post(URL, json=body(plan_id, email=f"s{n}@example.com")).status_code == 201
    limited = client.post(URL, json=body(plan_id, email="s9@example.com"))
    assert limited.status_code == 429
    assert "detail" in limited.get_json()
    assert int(limited.headers["Retry-After"]) > 0
    other_ip = client.post(URL, json=body(plan_id, email="s9@example.com"),
                           environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other_ip.status_code == 201


def test_a_limited_start_tells_the_caller_its_limit_and_a_plain_page_carries_none(
        make_app, seeded_with):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_INITIATE_IP="3 per hour",
                   RATELIMIT_INITIATE_EMAIL="100 per hour")
    plan_id = seeded_with(app)
    client = app.test_client()
    remaining = []
    for _ in range(3):
        started = client.post(URL, json=body(plan_id, email="ana@example.com"))
        assert started.status_code == 201
        remaining.append(int(started.headers["X-RateLimit-Remaining"]))
    assert remaining[1] == remaining[0] - 1 and remaining[2] == remaining[1] - 1
    assert "X-RateLimit-Remaining" not in client.get("/").headers


def test_one_ipv6_network_is_one_anonymous_caller(make_app, seeded_with):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_INITIATE_IP="2 per hour",
                   RATELIMIT_INITIATE_EMAIL="100 per hour")
    plan_id = seeded_with(app)
    client = app.test_client()
    statuses = [client.post(URL, json=body(plan_id, email=f"s{n}@example.com"),
                            environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{n + 1:x}"}).status_code
                for n in range(3)]
    assert statuses == [201, 201, 429]
    elsewhere = client.post(URL, json=body(plan_id, email="s9@example.com"),
                            environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"})
    assert elsewhere.status_code == 201


def test_each_email_is_limited_across_ips(make_app, seeded_with):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_INITIATE_IP="100 per hour",
                   RATELIMIT_INITIATE_EMAIL="2 per hour")
    plan_id = seeded_with(app)
    client = app.test_client()
    for n in range(2):
        response = client.post(URL, json=body(plan_id, email="Same@Example.com"),
                               environ_base={"REMOTE_ADDR": f"10.0.0.{n}"})
        assert response.status_code == 201
    limited = client.post(URL, json=body(plan_id, email="same@example.com"),
                          environ_base={"REMOTE_ADDR": "10.0.0.77"})
    assert limited.status_code == 429
    assert client.post(URL, json=body(plan_id, email="other@example.com")).status_code == 201


def test_limits_can_be_switched_off(make_app, seeded_with):
    app = make_app(RATELIMIT_ENABLED=False, RATELIMIT_INITIATE_IP="1 per hour")
    plan_id = seeded_with(app)
    client = app.test_client()
    statuses = {client.post(URL, json=body(plan_id, email=f"x{n}@example.com")).status_code
                for n in range(3)}
    assert statuses == {201}


def test_another_caller_with_the_same_email_does_not_get_the_pending_payment(app, client,
                                                                             seeded):
    first = client.post(URL, json=body(seeded["Basic Package"])).get_json()
    stranger = app.test_client().post(URL, json=body(seeded["Basic Package"])).get_json()
    assert stranger["transaction_id"] != first["transaction_id"]
    assert stranger["client_secret"] != first["client_secret"]


def test_paid_pending_purchase_is_settled_not_paid_twice(app, client, seeded, stripe_emulator):
    from tests.support import pay

    first = client.post(URL, json=body(seeded["Basic Package"])).get_json()
    pay(stripe_emulator, first["payment_intent_id"])  # paid, but no webhook came
    again = client.post(URL, json=body(seeded["Basic Package"])).get_json()
    assert again["transaction_id"] != first["transaction_id"]
    with app.app_context():
        assert db.session.get(Purchase, first["transaction_id"]).status == "completed"
        from storefront.ledger import verify_ledger

        assert verify_ledger() == []


def test_logged_in_buyers_are_limited_per_account(make_app, seeded_with, make_user):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_INITIATE_IP="2 per hour",
                   RATELIMIT_INITIATE_EMAIL="50 per hour")
    plan_id = seeded_with(app)
    make_user("sam@example.com")
    client = app.test_client()
    log_in(client, "sam@example.com")
    from tests.conftest import csrf_token

    token = csrf_token(client)
    statuses = [client.post(URL, json=body(plan_id, email=f"other{n}@example.com"),
                            headers={"X-CSRFToken": token}).status_code for n in range(3)]
    assert statuses == [201, 201, 429]  # varying the email does not get around the limit


def test_email_limit_counts_every_spelling_of_an_address(make_app, seeded_with):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_INITIATE_IP="100 per hour",
                   RATELIMIT_INITIATE_EMAIL="2 per hour", RATELIMIT_INITIATE_EMAIL_IP="2 per hour")
    plan_id = seeded_with(app)
    client = app.test_client()
    statuses = [client.post(URL, json=body(plan_id, email=email)).status_code
                for email in ("bob@example.com", "BOB@example.com", "bob@\uff45xample.com")]
    assert statuses == [201, 201, 429]


def test_a_stranger_cannot_block_someone_elses_purchases(make_app, seeded_with, make_user):
    app = make_app(RATELIMIT_ENABLED=True)  # the default limits
    plan_id = seeded_with(app)
    stranger = app.test_client()
    statuses = [stranger.post(URL, json=body(plan_id, email="carol@example.com"),
                              environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code
                for _ in range(12)]
    assert statuses[0] == 201 and statuses[-1] == 429

    carol = app.test_client()
    started = carol.post(URL, json=body(plan_id, email="carol@example.com"),
                         environ_base={"REMOTE_ADDR": "203.0.113.20"})
    assert started.status_code == 201
