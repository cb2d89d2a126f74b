"""A gunicorn worker killed (SIGKILL) in the middle of applying a webhook: nothing of that
event is left in the database, and Stripe's redelivery credits the payment once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from storefront.extensions import db
from storefront.models import LedgerEntry, Purchase, WebhookEvent
from tests.support import (
    STRIPE_SECRET_KEY,
    WEBHOOK_PATH,
    WEBHOOK_SECRET,
    pay,
    signed_event,
    start_purchase,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """`gunicorn wsgi:app` with two sync workers, as production runs it."""

    def __init__(self, database_url: str, stripe_base: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "STOREFRONT_ENV": "testing", "DATABASE_URL": database_url,
               "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY, "STRIPE_PUBLISHABLE_KEY": "pk_test_x",
               "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "STRIPE_API_BASE": stripe_base,
               "RATELIMIT_ENABLED": "false"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "wsgi:app", "--workers", "2",
             "--bind", f"127.0.0.1:{self.port}", "--timeout", "120"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(self.healthy, timeout=90, interval=0.2)
        except BaseException:
            self.stop()
            raise

    def healthy(self) -> bool:
        try:
            return requests.get(self.url + "/healthz", timeout=5).status_code == 200
        except requests.RequestException:  # not listening yet, or workers still booting
            return False

    def workers(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def worker_with_connection(self, local_port: int) -> int:
        """The worker process holding the TCP connection from this local port."""
        inodes = set()
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == local_port:
                inodes.add(f"socket:[{fields[9]}]")
        for pid in self.workers():
            fd_dir = Path(f"/proc/{pid}/fd")
            for fd in fd_dir.iterdir():
                try:
                    if os.readlink(fd) in inodes:
                        return pid
                except OSError:
                    continue
        raise AssertionError(f"no worker holds the connection from port {local_port}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _post(url: str, delivery) -> int | str:
    try:
        return requests.post(url + WEBHOOK_PATH, data=delivery[0], headers=delivery[1],
                             timeout=120).status_code
    except requests.ConnectionError:
        return "connection dropped"


def _state(app, purchase_id: int, event_id: str) -> tuple[str, int, list[int]]:
    with app.app_context():
        purchase = db.session.get(Purchase, purchase_id)
        events = db.session.scalar(db.select(db.func.count()).select_from(WebhookEvent).where(
            WebhookEvent.stripe_event_id == event_id))
        minutes = list(db.session.scalars(db.select(LedgerEntry.minutes).where(
            LedgerEntry.reference == purchase.payment_intent_id)))
        result = (purchase.status, events, minutes)
        db.session.remove()
        return result


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_worker_killed_while_applying_a_webhook_leaves_nothing_and_redelivery_credits_once(
        make_app, seeded_with, stripe_emulator, pg_cluster):
    app = make_app(SQLALCHEMY_DATABASE_URI=pg_cluster.url)
    client = app.test_client()
    plan_id = seeded_with(app)
    started = start_purchase(client, plan_id)
    intent = pay(stripe_emulator, started["payment_intent_id"])
    delivery = signed_event("payment_intent.succeeded", intent, event_id="evt_killed")
    purchase_id = started["transaction_id"]

    server = Gunicorn(pg_cluster.url, stripe_emulator.base_url)
    engine = create_engine(pg_cluster.url)
    try:
        # Hold the purchase row, so that the worker stops halfway: its event row written,
        # the credit not yet.
        with engine.connect() as holder:
            holder.execute(text("SELECT id FROM purchases WHERE id = :id FOR UPDATE"),
                           {"id": purchase_id})
            results: list = []
            stripe = threading.Thread(target=lambda: results.append(_post(server.url, delivery)))
            stripe.start()
            # pg_stat_activity is a snapshot per transaction: look afresh every time.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
                def waiting_backend():
                    return watcher.execute(text(
                        "SELECT client_port FROM pg_stat_activity WHERE wait_event_type = "
                        "'Lock' AND query ILIKE '%purchases%'")).scalar()
                client_port = wait_for(waiting_backend, timeout=60)
            worker = server.worker_with_connection(client_port)
            os.kill(worker, signal.SIGKILL)
            stripe.join(60)
            holder.rollback()
        assert results == ["connection dropped"] or results[0] >= 500, results

        # Nothing of the half-applied event is left: not the event, not a credit.
        assert _state(app, purchase_id, "evt_killed") == ("pending", 0, [])

        # gunicorn replaces the worker; Stripe retries and the payment is credited, once.
        wait_for(lambda: len(server.workers()) == 2 and worker not in server.workers(),
                 timeout=60)
        assert _post(server.url, delivery) == 200
        assert _post(server.url, delivery) == 200
        assert _state(app, purchase_id, "evt_killed") == ("completed", 1, [300])
    finally:
        engine.dispose()
        server.stop()
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
