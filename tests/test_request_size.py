"""Request bodies are bounded: 64 KB for the JSON API and the webhook, 1 MB for pages.
Larger ones get 413 before the body is read, and nothing is recorded."""

from __future__ import annotations

import json

import pytest
import requests

from storefront.extensions import db
from storefront.models import Purchase, WebhookEvent
from tests.support import INITIATE_URL, WEBHOOK_PATH, pay, signed_event, start_purchase

MB = 1024 * 1024


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def _recorded(app, event_id: str) -> bool:
    with app.app_context():
        return db.session.scalar(db.select(WebhookEvent.id).where(
            WebhookEvent.stripe_event_id == event_id)) is not None


@pytest.fixture
def paid_event(client, seeded, stripe_emulator):
    """A correctly signed payment_intent.succeeded event, padded to a given size."""
    started = start_purchase(client, seeded["Basic Package"])
    intent = pay(stripe_emulator, started["payment_intent_id"])

    def event(size: int) -> tuple[bytes, dict[str, str]]:
        padded = {**intent, "description": "x" * size}
        return signed_event("payment_intent.succeeded", padded)

    return event


def test_a_signed_event_of_a_few_kilobytes_is_accepted(app, client, paid_event):
    payload, headers = paid_event(16 * 1024)
    assert client.post(WEBHOOK_PATH, data=payload, headers=headers).status_code == 200
    assert _count(app, WebhookEvent) == 1


@pytest.mark.parametrize("size", [100 * 1024, 30 * MB])
def test_webhook_refuses_large_bodies_as_plain_text(app, client, paid_event, size):
    payload, headers = paid_event(size)
    response = client.post(WEBHOOK_PATH, data=payload, headers=headers)
    assert response.status_code == 413
    assert response.mimetype == "text/plain"
    assert _count(app, WebhookEvent) == 0


def _initiate_body(plan_id: int, size: int) -> bytes:
    return json.dumps({"plan_id": plan_id, "note": "x" * size,
                       "student_info": {"name": "Ana Silva", "email": "ana@example.com"}}).encode()


@pytest.mark.parametrize("size", [100 * 1024, 30 * MB])
def test_api_refuses_large_bodies_in_its_error_shape(app, client, seeded, size):
    response = client.post(INITIATE_URL, data=_initiate_body(seeded["Basic Package"], size),
                           content_type="application/json")
    assert response.status_code == 413
    assert "detail" in response.get_json()
    assert _count(app, Purchase) == 0


def _chunks(body: bytes, size: int = 8192):
    for start in range(0, len(body), size):
        yield body[start:start + size]


def test_chunked_bodies_without_a_length_are_bounded_too(app, client, seeded, paid_event,
                                                         live_server):
    payload, headers = paid_event(100 * 1024)
    webhook = requests.post(live_server.url + WEBHOOK_PATH, data=_chunks(payload),
                            headers=headers, timeout=60)
    api = requests.post(live_server.url + INITIATE_URL,
                        data=_chunks(_initiate_body(seeded["Basic Package"], 100 * 1024)),
                        headers={"Content-Type": "application/json"}, timeout=60)
    assert (webhook.status_code, api.status_code) == (413, 413)
    assert webhook.headers["Content-Type"].startswith("text/plain")
    assert "detail" in api.json()
    # The emulator's own event for paid_event's payment may reach the live server too; the
    # refused delivery is the one that must have left nothing.
    assert not _recorded(app, json.loads(payload)["id"])
    assert _count(app, Purchase) == 1  # paid_event's own
    small, headers = paid_event(1024)
    assert requests.post(live_server.url + WEBHOOK_PATH, data=_chunks(small), headers=headers,
                         timeout=60).status_code == 200


def test_pages_refuse_bodies_over_a_megabyte_with_a_page(client):
    response = client.post("/account/login", data={"email": "a@example.com",
                                                    "password": "x" * (2 * MB)})
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "too large" in response.get_data(as_text=True)
