"""The storefront as wsgi.py builds it, plus a minimal correct Stripe webhook at /_bench.

    gunicorn tools.bench.bench_wsgi:app -c gunicorn.conf.py

The minimal webhook is the yardstick of the webhook figures: verify the Stripe signature
(HMAC-SHA256 over "t.body", within the tolerance), INSERT … ON CONFLICT DO NOTHING the event id
into its own table (bench_events, created by the harness) and commit. It has its own engine on
the same DATABASE_URL; the product is not changed and never routes to it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time

from flask import Flask, request
from sqlalchemy import create_engine, text
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from wsgi import app as storefront_app

TOLERANCE_SECONDS = 300
minimal = Flask(__name__)
_engine = create_engine(os.environ["DATABASE_URL"], pool_pre_ping=True)
_secret = os.environ["STRIPE_WEBHOOK_SECRET"].encode()


def _signature_ok(payload: bytes, header: str) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = hmac.new(_secret, f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return (hmac.compare_digest(expected, parts.get("v1", ""))
            and abs(time.time() - timestamp) <= TOLERANCE_SECONDS)


@minimal.post("/webhook")
def webhook():
    """Verify, record the event id once, commit."""
    payload = request.get_data()
    if not _signature_ok(payload, request.headers.get("Stripe-Signature", "")):
        return "bad signature", 400
    try:
        event_id = json.loads(payload)["id"]
    except (ValueError, KeyError, TypeError):
        return "not an event", 400
    with _engine.begin() as connection:
        connection.execute(text("INSERT INTO bench_events (id) VALUES (:id) "
                                "ON CONFLICT DO NOTHING"), {"id": event_id})
    return "OK", 200


app = storefront_app
app.wsgi_app = DispatcherMiddleware(storefront_app.wsgi_app, {"/_bench": minimal})
