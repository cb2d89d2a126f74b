"""Webhook figures: unique payment_intent.succeeded events each crediting a pending purchase,
the same events delivered again, and the minimal correct webhook they are measured against."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from tools.bench import seed
from tools.bench.stack import WEBHOOK_SECRET, Server, wait_until
from tools.bench.wrk import WrkResult, run_wrk

WEBHOOK_PATH = "/api/finances/webhooks/stripe/"
MINIMAL_PATH = "/_bench/webhook"
CONCURRENCY = 8
API_VERSION = "2026-10-28.endive"


@dataclass(frozen=True)
class WebhookRound:
    """One round: the minimal webhook, unique events, duplicate deliveries."""

    minimal: WrkResult
    unique: WrkResult
    duplicate: WrkResult
    recorded: int  # events the storefront recorded
    credited: int  # of their purchases, credited exactly once
    wrong: int  # purchases credited twice or inconsistently (must be 0)


def event_body(event_id: str, intent_id: str, purchase_id: int, amount: int, currency: str,
               created: int) -> str:
    """A payment_intent.succeeded event as Stripe sends it (the fields Stripe fills in)."""
    return json.dumps({
        "id": event_id, "object": "event", "api_version": API_VERSION, "created": created,
        "data": {"object": {
            "id": intent_id, "object": "payment_intent", "amount": amount,
            "amount_capturable": 0, "amount_received": amount, "capture_method": "automatic",
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}",
            "confirmation_method": "automatic", "created": created - 30, "currency": currency,
            "customer": None, "description": f"Basic Package (purchase {purchase_id})",
            "last_payment_error": None, "latest_charge": f"ch_{intent_id[3:]}",
            "livemode": True, "metadata": {"purchase_id": str(purchase_id)},
            "payment_method": f"pm_{intent_id[3:]}", "payment_method_types": ["card"],
            "receipt_email": None, "status": "succeeded",
        }},
        "livemode": True, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "payment_intent.succeeded",
    }, separators=(",", ":"))


def sign(body: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header for a body: t=…,v1=HMAC-SHA256(secret, "t.body")."""
    timestamp = timestamp or int(time.time())
    digest = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.{body}".encode(),
                      hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def write_events(path: Path, bodies: list[str]) -> Path:
    """One signed event per line, as events.lua reads them (signed now)."""
    now = int(time.time())
    path.write_text("".join(f"{sign(body, now)}\t{body}\n" for body in bodies))
    return path


def _settled(conn, tag: str) -> int:
    """Wait until the server has stopped recording this round's events; return the count."""
    last = [-1]

    def unchanged() -> bool:
        count = conn.execute("SELECT count(*) FROM webhook_events WHERE stripe_event_id LIKE %s",
                             (f"evt_bench_{tag}_%",)).fetchone()[0]
        conn.commit()
        same, last[0] = count == last[0], count
        return same

    wait_until(unchanged, 60, "the webhook round to settle")
    return last[0]


class WebhookBench:
    """Runs webhook rounds against one server (storefront + minimal webhook at /_bench)."""

    def __init__(self, server: Server, database_url: str, workdir: Path, duration: float,
                 max_rate: int) -> None:
        self.server, self.database_url, self.workdir = server, database_url, workdir
        self.duration, self.max_rate = duration, max_rate
        self.run_id = secrets.token_hex(3)
        with seed.connect(database_url) as conn:
            seed.create_minimal_webhook_table(conn)
            self.plan_id, _ = seed.package_plan(conn)

    def _wrk(self, path: str, events: Path, mode: str) -> WrkResult:
        return run_wrk(self.server.url + path, duration=self.duration, threads=2,
                       connections=CONCURRENCY, script="events.lua", args=[str(events), mode, "2"])

    def _minimal(self, tag: str) -> WrkResult:
        now = int(time.time())
        count = int(self.max_rate * self.duration * 2)
        bodies = [event_body(f"evt_min_{tag}_{i}", f"pi_min_{tag}_{i}", i, 1000, "eur", now)
                  for i in range(count)]
        return self._wrk(MINIMAL_PATH, write_events(self.workdir / "minimal.events", bodies),
                         "once")

    def round(self, number: int) -> WebhookRound:
        """Minimal, unique and duplicate runs (order alternating by round), then the check
        that every recorded event credited its purchase exactly once."""
        tag = f"{self.run_id}r{number}"
        count = int(self.max_rate * self.duration)
        with seed.connect(self.database_url) as conn:
            purchases = seed.pending_purchases(conn, tag, count, self.plan_id)
            now = int(time.time())
            bodies = {f"evt_bench_{tag}_{pid}": event_body(f"evt_bench_{tag}_{pid}", intent,
                                                           pid, amount, currency, now)
                      for pid, intent, amount, currency in purchases}
            events = write_events(self.workdir / "unique.events", list(bodies.values()))
            if number % 2:
                unique = self._wrk(WEBHOOK_PATH, events, "once")
                minimal = self._minimal(tag)
            else:
                minimal = self._minimal(tag)
                unique = self._wrk(WEBHOOK_PATH, write_events(events, list(bodies.values())),
                                   "once")
            _settled(conn, tag)
            recorded, credited, wrong = seed.credit_check(conn, tag)
            seen = [row[0] for row in conn.execute(
                "SELECT stripe_event_id FROM webhook_events WHERE stripe_event_id LIKE %s",
                (f"evt_bench_{tag}_%",))]
            conn.commit()
        # The same events again, re-signed now (Stripe signs every delivery afresh).
        replay = write_events(self.workdir / "replay.events", [bodies[i] for i in seen])
        duplicate = self._wrk(WEBHOOK_PATH, replay, "cycle")
        return WebhookRound(minimal=minimal, unique=unique, duplicate=duplicate,
                            recorded=recorded, credited=credited, wrong=wrong)
