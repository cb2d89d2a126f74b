"""PostgreSQL stopped while Stripe's webhooks arrive: never a 2xx for an event that was not
stored, and once the database is back, Stripe's redelivery credits each payment once."""

from __future__ import annotations

import threading

import requests

from storefront.extensions import db
from storefront.models import LedgerEntry, Purchase, WebhookEvent
from tests.support import (
    WEBHOOK_PATH,
    LiveServer,
    pay,
    signed_event,
    start_purchase,
    wait_for,
)

PAYMENTS = 8


def _post(server: LiveServer, delivery: tuple[bytes, dict]) -> int:
    return requests.post(server.url + WEBHOOK_PATH, data=delivery[0], headers=delivery[1],
                         timeout=60).status_code


def _credited_minutes(app) -> dict[int, list[int]]:
    """purchase id -> the minutes of each purchase credit it got."""
    with app.app_context():
        rows = db.session.execute(
            db.select(Purchase.id, LedgerEntry.minutes)
            .join(LedgerEntry, LedgerEntry.reference == Purchase.payment_intent_id)
            .where(LedgerEntry.kind == "purchase_credit")).all()
        db.session.remove()
    credited: dict[int, list[int]] = {}
    for purchase_id, minutes in rows:
        credited.setdefault(purchase_id, []).append(minutes)
    return credited


def test_webhooks_during_a_database_outage_are_5xx_and_redelivery_credits_once(
        make_app, seeded_with, stripe_emulator, pg_cluster):
    app = make_app(SQLALCHEMY_DATABASE_URI=pg_cluster.url)
    plan_id = seeded_with(app)
    client = app.test_client()
    deliveries, purchase_ids = [], []
    for n in range(PAYMENTS):
        started = start_purchase(client, plan_id, email=f"s{n}@example.com")
        intent = pay(stripe_emulator, started["payment_intent_id"])
        deliveries.append(signed_event("payment_intent.succeeded", intent, event_id=f"evt_pg_{n}"))
        purchase_ids.append(started["transaction_id"])

    server = LiveServer(app)
    try:
        # Stripe delivers one event after another; the database stops partway through.
        statuses: dict[int, int] = {}
        first_landed, stopped = threading.Event(), threading.Event()

        def stripe_delivers() -> None:
            for n, delivery in enumerate(deliveries):
                if n == PAYMENTS // 2:  # the first half races the shutdown, the rest meets it
                    stopped.wait(120)
                statuses[n] = _post(server, delivery)
                first_landed.set()

        stripe = threading.Thread(target=stripe_delivers)
        stripe.start()
        assert first_landed.wait(60)
        pg_cluster.stop()
        stopped.set()
        stripe.join(120)
        assert not stripe.is_alive()

        assert set(statuses.values()) <= {200, 500, 502, 503}
        answered_ok = {n for n, status in statuses.items() if status == 200}
        refused = set(range(PAYMENTS)) - answered_ok
        assert 0 in answered_ok and refused, statuses  # the outage was felt
        # While it is down, a redelivery is refused too.
        assert _post(server, deliveries[-1]) >= 500

        pg_cluster.start()
        # Every 200 was committed before the outage: those purchases are already credited.
        credited = _credited_minutes(app)
        assert {purchase_ids[n] for n in answered_ok} == set(credited)

        # Stripe retries what was refused until it gets a 2xx (the first try after the
        # restart may still meet a connection the outage broke).
        for n in sorted(refused):
            wait_for(lambda n=n: _post(server, deliveries[n]) == 200, timeout=60, interval=0.5)
        # … and may send everything once more.
        assert [_post(server, delivery) for delivery in deliveries] == [200] * PAYMENTS
    finally:
        server.stop()

    assert _credited_minutes(app) == {purchase_id: [300] for purchase_id in purchase_ids}
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(WebhookEvent).where(
            WebhookEvent.stripe_event_id.like("evt_pg_%"))) == PAYMENTS
        statuses_now = set(db.session.scalars(db.select(Purchase.status)))
        db.session.remove()
    assert statuses_now == {"completed"}
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
