"""Test helpers: the Stripe emulator process, a Stripe-shaped stub, signed events, a live server."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Barrier
from urllib.parse import urlencode

import requests
import stripe
from werkzeug.serving import make_server

STRIPE_SECRET_KEY = "sk_test_emulator"
STRIPE_PUBLISHABLE_KEY = "pk_test_emulator"
WEBHOOK_SECRET = "whsec_test_storefront_suite"
WEBHOOK_PATH = "/api/finances/webhooks/stripe/"
# Nothing listens here: webhooks of a finished test go nowhere.
BLACKHOLE_URL = "http://127.0.0.1:9/"


class Emulator:
    """A localstripe process on a free loopback port."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "storefront.stripe_emulator", "--port", "0", "--from-scratch"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        line = self.process.stdout.readline()
        match = re.match(r"listening on ([\d.]+):(\d+)", line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"Stripe emulator did not start: {line!r}")
        self.base_url = f"http://{match.group(1)}:{match.group(2)}"

    def _call(self, method: str, path: str, data: dict | None = None) -> None:
        body = urlencode(data).encode() if data else None
        request = urllib.request.Request(self.base_url + path, data=body, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def reset(self) -> None:
        """Forget every Stripe object (webhook registrations survive; re-send them) and set
        Stripe's clock back to now."""
        self._call("DELETE", "/_config/data")
        self.move_clock(0)

    def move_clock(self, offset_seconds: float) -> None:
        """Run Stripe's clock this far ahead of ours: what it creates from now on is dated so."""
        self._call("POST", "/_config/clock", {"offset_seconds": offset_seconds})

    def send_webhooks_to(self, url: str, secret: str = WEBHOOK_SECRET) -> None:
        self._call("POST", "/_config/webhooks/storefront", {"url": url, "secret": secret})

    def client(self, api_key: str = STRIPE_SECRET_KEY) -> stripe.StripeClient:
        """The real stripe library, pointed at the emulator (what tests use to act as Stripe)."""
        return stripe.StripeClient(api_key, base_addresses={"api": self.base_url})

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stdout.close()


class StripeStub:
    """A local HTTP server answering every request with one Stripe-shaped JSON response,
    for Stripe behaviours the emulator cannot produce (rate limits, API errors). With
    `forward_to(emulator)`, it passes requests on to the emulator instead, except the paths
    given to `respond_at`, which get their own answer."""

    def __init__(self) -> None:
        self.status = 200
        self.body: object = {}
        self.requests: list[str] = []
        # Every request as sent: (method and path, headers, body), to assert on what we sent.
        self.sent: list[tuple[str, dict[str, str], bytes]] = []
        self.upstream: str | None = None
        self.answers: dict[str, tuple[int, object]] = {}
        self.connections = 0  # TCP connections opened to it (kept alive, as Stripe's are)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                stub.connections += 1

            def _forward(self, body: bytes) -> tuple[int, bytes]:
                request = urllib.request.Request(
                    stub.upstream + self.path, data=body or None, method=self.command,
                    headers={k: v for k, v in self.headers.items()
                             if k.lower() in ("authorization", "content-type",
                                              "idempotency-key", "stripe-version")})
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        return response.status, response.read()
                except urllib.error.HTTPError as error:
                    return error.code, error.read()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                stub.requests.append(f"{self.command} {self.path}")
                stub.sent.append((f"{self.command} {self.path}", dict(self.headers.items()), body))
                status, answer = stub.answers.get(self.path.split("?")[0],
                                                  (stub.status, stub.body))
                if stub.upstream and self.path.split("?")[0] not in stub.answers:
                    status, answer = self._forward(body)
                payload = answer if isinstance(answer, bytes) else json.dumps(answer)
                data = payload if isinstance(payload, bytes) else payload.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Request-Id", "req_stub")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def respond(self, status: int, body: object) -> None:
        self.status, self.body = status, body

    def forward_to(self, emulator: Emulator) -> None:
        self.upstream = emulator.base_url

    def respond_at(self, path: str, status: int, body: object) -> None:
        self.answers[path] = (status, body)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def stripe_error(error_type: str, message: str, code: str | None = None) -> dict:
    error = {"type": error_type, "message": message}
    if code:
        error["code"] = code
    return {"error": error}


class LiveServer:
    """The app served over HTTP on a free loopback port, in a thread."""

    def __init__(self, app) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def signed_event(
    event_type: str, obj: dict, *, event_id: str | None = None, created: int | None = None,
    secret: str = WEBHOOK_SECRET, timestamp: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A Stripe event around a real object, signed with the library's own scheme."""
    created = created or int(time.time())
    event = {
        "id": event_id or f"evt_test_{time.time_ns()}",
        "object": "event",
        "type": event_type,
        "created": created,
        "api_version": "2026-10-28.endive",
        "livemode": False,
        "data": {"object": obj},
    }
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=timestamp
    )
    return payload.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll until predicate() is truthy; return its value or fail after timeout (generous: a
    loaded CI machine can take many seconds to deliver an emulator's webhook)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)


INITIATE_URL = "/api/finances/api/purchase/initiate/"


def start_purchase(client, plan_id: int, email: str = "ana@example.com",
                   name: str = "Ana Silva") -> dict:
    """Initiate a guest purchase through the API; return its JSON."""
    response = client.post(INITIATE_URL, json={
        "plan_id": plan_id, "student_info": {"name": name, "email": email}})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def pay(emulator: Emulator, payment_intent_id: str, payment_method: str = "pm_card_visa") -> dict:
    """Pay (or fail to pay) a PaymentIntent at the emulator as Stripe.js would; return it."""
    client = emulator.client()
    client.v1.payment_intents.update(payment_intent_id, params={"payment_method": payment_method})
    with contextlib.suppress(stripe.CardError):  # a decline leaves its error on the intent
        client.v1.payment_intents.confirm(payment_intent_id)
    return client.v1.payment_intents.retrieve(payment_intent_id).to_dict()


def deliver(client, event_type: str, obj: dict, **kwargs):
    """POST a signed event to the webhook through the test client."""
    payload, headers = signed_event(event_type, obj, **kwargs)
    return client.post(WEBHOOK_PATH, data=payload, headers=headers)


def all_at_once(work, items: list) -> list:
    """work(item) for every item, each in its own thread, all released at the same instant;
    the results in the items' order."""
    barrier = Barrier(len(items))

    def run(item):
        barrier.wait()
        return work(item)

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(run, items))


def post_webhooks_at_once(server_url: str, deliveries: list[tuple[bytes, dict]]) -> list[int]:
    """POST signed deliveries (signed_event's results) to the webhook concurrently; their
    status codes."""
    return all_at_once(lambda delivery: requests.post(
        server_url + WEBHOOK_PATH, data=delivery[0], headers=delivery[1], timeout=60
    ).status_code, deliveries)


def credited_minutes(app, email: str) -> int:
    """The minutes the ledger holds for the account of this email (0 when there is none)."""
    from storefront.extensions import db
    from storefront.models import LedgerEntry, User

    with app.app_context():
        user = db.session.scalars(db.select(User).where(User.email == email)).first()
        if user is None:
            return 0
        return sum(db.session.scalars(
            db.select(LedgerEntry.minutes).where(LedgerEntry.student_id == user.id)))
