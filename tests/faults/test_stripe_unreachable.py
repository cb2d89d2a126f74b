"""Stripe unreachable while a purchase starts: a 503 the student can act on, nothing left
behind that blocks the retry once Stripe answers again."""

from __future__ import annotations

import socket
import time

import pytest

from storefront.extensions import db
from storefront.models import Purchase, User
from tests.conftest import csrf_token, log_in
from tests.support import INITIATE_URL

UNREACHABLE = "We could not reach the payment service"


@pytest.fixture
def silent_port():
    """A loopback address that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def purchases(app) -> list[Purchase]:
    with app.app_context():
        return db.session.scalars(db.select(Purchase).order_by(Purchase.id)).all()


def body(plan_id: int) -> dict:
    return {"plan_id": plan_id, "student_info": {"name": "Ana Silva", "email": "ana@example.com"}}


def assert_unreachable_json(response) -> None:
    assert response.status_code == 503
    data = response.get_json()
    assert data["success"] is False and data["error_type"] == "api_connection_error"
    assert data["message"].startswith(UNREACHABLE)


def test_initiate_while_stripe_is_down_is_503_and_the_retry_goes_through(
        app, client, seeded, stripe_emulator, closed_port):
    plan_id = seeded["Basic Package"]
    app.config["STRIPE_API_BASE"] = closed_port

    for _ in range(2):  # the student tries twice while Stripe is away
        assert_unreachable_json(client.post(INITIATE_URL, json=body(plan_id)))
    assert purchases(app) == []

    app.config["STRIPE_API_BASE"] = stripe_emulator.base_url  # Stripe is back
    response = client.post(INITIATE_URL, json=body(plan_id))
    assert response.status_code == 201, response.get_data(as_text=True)
    started = response.get_json()
    [purchase] = purchases(app)
    assert (purchase.id, purchase.status) == (started["transaction_id"], "pending")
    intent = stripe_emulator.client().v1.payment_intents.retrieve(started["payment_intent_id"])
    assert (intent.amount, intent.metadata["purchase_id"]) == (7500, str(purchase.id))


def test_stripe_that_never_answers_times_out_as_503(make_app, seeded_with, silent_port):
    app = make_app(STRIPE_API_BASE=silent_port, STRIPE_TIMEOUT_SECONDS=1)
    plan_id = seeded_with(app)
    began = time.monotonic()
    assert_unreachable_json(app.test_client().post(INITIATE_URL, json=body(plan_id)))
    assert time.monotonic() - began < 15
    assert purchases(app) == []


def test_pending_purchase_survives_stripe_outage_and_is_reused_after(
        app, client, seeded, stripe_emulator, closed_port):
    plan_id = seeded["Basic Package"]
    first = client.post(INITIATE_URL, json=body(plan_id)).get_json()

    app.config["STRIPE_API_BASE"] = closed_port
    assert_unreachable_json(client.post(INITIATE_URL, json=body(plan_id)))
    app.config["STRIPE_API_BASE"] = stripe_emulator.base_url

    again = client.post(INITIATE_URL, json=body(plan_id))
    assert again.status_code == 201
    assert again.get_json()["transaction_id"] == first["transaction_id"]
    assert [(p.id, p.status) for p in purchases(app)] == [(first["transaction_id"], "pending")]


def test_checkout_page_says_stripe_is_unreachable_and_the_retry_goes_through(
        app, client, seeded, make_user, stripe_emulator, closed_port):
    make_user("sam@example.com", "Sam Student")
    log_in(client, "sam@example.com")
    plan_id = seeded["Basic Package"]
    app.config["STRIPE_API_BASE"] = closed_port

    response = client.post(f"/checkout/{plan_id}", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert UNREACHABLE in html and 'role="alert"' in html
    assert "Continue to payment" in html  # the form is there to try again
    assert purchases(app) == []

    app.config["STRIPE_API_BASE"] = stripe_emulator.base_url
    response = client.post(f"/checkout/{plan_id}", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    [purchase] = purchases(app)
    assert response.headers["Location"].endswith(f"/checkout/purchase/{purchase.id}/pay")
    with app.app_context():
        assert db.session.get(User, purchase.student_id).email == "sam@example.com"


def test_payment_page_while_stripe_is_down_asks_to_try_again(
        app, client, seeded, stripe_emulator, closed_port):
    token = csrf_token(client, f"/checkout/{seeded['Basic Package']}")
    client.post(f"/checkout/{seeded['Basic Package']}",
                data={"csrf_token": token, "name": "Ana Silva", "email": "ana@example.com"})
    [purchase] = purchases(app)
    app.config["STRIPE_API_BASE"] = closed_port
    response = client.get(f"/checkout/purchase/{purchase.id}/pay")
    assert response.status_code == 503
    assert UNREACHABLE in response.get_data(as_text=True)
    app.config["STRIPE_API_BASE"] = stripe_emulator.base_url
    assert client.get(f"/checkout/purchase/{purchase.id}/pay").status_code == 200
