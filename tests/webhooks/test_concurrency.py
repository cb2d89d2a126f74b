"""Exactly one credit per payment, whoever arrives first and however many at once."""

from __future__ import annotations

import requests

from storefront.extensions import db
from storefront.ledger import verify_ledger
from storefront.models import LedgerEntry, Purchase, WebhookEvent
from tests.support import (
    WEBHOOK_PATH,
    all_at_once,
    pay,
    post_webhooks_at_once,
    signed_event,
    start_purchase,
    wait_for,
)


def _credits(app, transaction_id) -> tuple[str, int, int]:
    with app.app_context():
        # First, in a snapshot of its own: a credit committed between its reads is no mismatch.
        assert verify_ledger() == []
        purchase = db.session.get(Purchase, transaction_id)
        entries = db.session.scalars(
            db.select(LedgerEntry).where(LedgerEntry.student_id == purchase.student_id)).all()
        return purchase.status, len(entries), sum(e.minutes for e in entries)


def test_twenty_concurrent_deliveries_of_one_event_credit_once(
    app, client, seeded, stripe_emulator, live_server
):
    started = start_purchase(client, seeded["Standard Package"])
    intent = pay(stripe_emulator, started["payment_intent_id"])
    delivery = signed_event("payment_intent.succeeded", intent, event_id="evt_storm")
    assert post_webhooks_at_once(live_server.url, [delivery] * 20) == [200] * 20
    assert _credits(app, started["transaction_id"]) == ("completed", 1, 600)
    with app.app_context():
        # The emulator's own delivery of this payment may land too, under another event id.
        assert db.session.scalar(db.select(db.func.count()).select_from(WebhookEvent).where(
            WebhookEvent.stripe_event_id == "evt_storm")) == 1


def test_concurrent_events_with_different_ids_credit_once(
    app, client, seeded, stripe_emulator, live_server
):
    started = start_purchase(client, seeded["Basic Package"])
    intent = pay(stripe_emulator, started["payment_intent_id"])
    deliveries = [signed_event("payment_intent.succeeded", intent, event_id=f"evt_{n}")
                  for n in range(10)]
    assert set(post_webhooks_at_once(live_server.url, deliveries)) == {200}
    assert _credits(app, started["transaction_id"]) == ("completed", 1, 300)


def _race_page_and_webhook(live_server, intent, cookies) -> set[int]:
    """Two complete-page loads (by the browser that paid) and two webhook deliveries,
    released at the same instant."""
    payload, headers = signed_event("payment_intent.succeeded", intent)
    complete_url = (f"{live_server.url}/checkout/complete?payment_intent={intent['id']}"
                    f"&payment_intent_client_secret={intent['client_secret']}")
    def hit(kind):
        if kind == "page":
            response = requests.get(complete_url, cookies=cookies, timeout=60)
            assert 'data-payment-status="succeeded"' in response.text
            return response.status_code
        return requests.post(live_server.url + WEBHOOK_PATH, data=payload,
                             headers=headers, timeout=60).status_code

    return set(all_at_once(hit, ["page", "hook", "page", "hook"]))


def test_complete_page_racing_the_webhook_credits_once(
    app, client, seeded, stripe_emulator, live_server
):
    for round_ in range(3):
        started = start_purchase(client, seeded["Basic Package"], email=f"r{round_}@example.com")
        intent = pay(stripe_emulator, started["payment_intent_id"])
        cookie_name = app.config["SESSION_COOKIE_NAME"]
        cookies = {cookie_name: client.get_cookie(cookie_name).value}
        assert _race_page_and_webhook(live_server, intent, cookies) == {200}
        assert _credits(app, started["transaction_id"]) == ("completed", 1, 300)


def test_emulator_webhook_credits_after_payment(app, client, seeded, stripe_emulator,
                                                live_server):
    """The whole offline loop: the emulator itself signs and delivers the event."""
    started = start_purchase(client, seeded["Basic Package"])
    pay(stripe_emulator, started["payment_intent_id"])
    wait_for(lambda: _credits(app, started["transaction_id"])[0] == "completed")
    assert _credits(app, started["transaction_id"]) == ("completed", 1, 300)
    with app.app_context():
        event = db.session.scalars(db.select(WebhookEvent)).one()
        assert (event.type, event.outcome) == ("payment_intent.succeeded", "processed")
