"""A small stateful stand-in for the parts of Stripe Billing the emulator lacks: updating a
subscription (cancel at period end, its item's price, its default payment method), SetupIntents
and paying an open invoice. Objects are shaped as Stripe's API reference shows them (API
version 2026-10-28: the billing period on the subscription's items). Every request is recorded
with its form parameters and Idempotency-Key, so tests can assert on what we sent.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from tests.webhooks.billing_objects import DAY, invoice_object, subscription_object


@dataclass(frozen=True)
class StubCall:
    """One request the storefront sent to the stub."""

    method: str
    path: str
    params: dict[str, str]
    idempotency_key: str | None


def _error(status: int, error_type: str, message: str, code: str | None = None):
    error = {"type": error_type, "message": message}
    if code:
        error["code"] = code
    return status, {"error": error}


def billing_subscription(sub_id: str, *, price_id: str, start: int, status: str = "active",
                         student_id: int | None = None, plan_id: int | None = None,
                         cancel_at_period_end: bool = False,
                         latest_invoice: str | None = None) -> dict:
    """A Subscription as the API returns it: one item on `price_id`, its latest invoice."""
    obj = subscription_object(sub_id, status=status, start=start, student_id=student_id,
                              plan_id=plan_id, cancel_at_period_end=cancel_at_period_end)
    obj["items"]["data"][0]["price"] = {
        "id": price_id, "object": "price", "active": True, "currency": "eur",
        "recurring": {"interval": "month", "interval_count": 1}}
    obj["latest_invoice"] = latest_invoice
    obj["default_payment_method"] = None
    return obj


class StripeBillingStub:
    """Stripe-shaped JSON for subscriptions, SetupIntents and invoices, kept in memory."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, dict] = {}
        self.setup_intents: dict[str, dict] = {}
        self.invoices: dict[str, dict] = {}
        self.calls: list[StubCall] = []
        # Seconds Stripe's clock runs ahead of ours (its responses' Date header).
        self.clock_offset = 0
        # When set, paying an invoice fails with this card error code.
        self.decline_invoice_payment: str | None = None
        self._lock = threading.Lock()
        self._counter = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                url = urlsplit(self.path)
                params = dict(parse_qsl(body or url.query, keep_blank_values=True))
                call = StubCall(self.command, url.path, params,
                                self.headers.get("Idempotency-Key"))
                with stub._lock:
                    stub.calls.append(call)
                    status, answer = stub._route(call)
                data = json.dumps(answer).encode()
                self.send_response_only(status)
                self.send_header("Date", formatdate(time.time() + stub.clock_offset,
                                                    usegmt=True))
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

    # --- what tests set up and read ----------------------------------------------------------

    def add_subscription(self, obj: dict) -> dict:
        self.subscriptions[obj["id"]] = obj
        return obj

    def add_open_invoice(self, invoice_id: str, sub_id: str, *, period_start: int,
                         amount: int = 11900) -> dict:
        """An unpaid renewal invoice of the subscription, now its latest."""
        invoice = invoice_object(invoice_id, sub_id, period_start=period_start, amount=amount,
                                 status="open")
        self.invoices[invoice_id] = invoice
        self.subscriptions[sub_id]["latest_invoice"] = invoice_id
        return invoice

    def complete_setup_intent(self, setup_intent_id: str, payment_method: str) -> dict:
        """What Stripe.js's confirmSetup does with a good card: the SetupIntent succeeds."""
        intent = self.setup_intents[setup_intent_id]
        intent.update(status="succeeded", payment_method=payment_method)
        return intent

    def calls_to(self, method: str, path_pattern: str) -> list[StubCall]:
        return [c for c in self.calls
                if c.method == method and re.fullmatch(path_pattern, c.path)]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- Stripe's API --------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_stub{self._counter}"

    def _route(self, call: StubCall) -> tuple[int, dict]:
        parts = call.path.strip("/").split("/")
        if parts[:2] == ["v1", "subscriptions"] and len(parts) == 3:
            sub = self.subscriptions.get(parts[2])
            if sub is None:
                return _error(404, "invalid_request_error",
                              f"No such subscription: '{parts[2]}'", "resource_missing")
            return (200, sub) if call.method == "GET" else self._update_subscription(sub, call)
        if parts[:2] == ["v1", "setup_intents"]:
            if len(parts) == 2 and call.method == "POST":
                return self._create_setup_intent(call)
            intent = self.setup_intents.get(parts[2]) if len(parts) == 3 else None
            if intent is not None:
                return 200, intent
        if parts[:2] == ["v1", "invoices"] and len(parts) == 4 and parts[3] == "pay":
            return self._pay_invoice(parts[2])
        return _error(404, "invalid_request_error", f"Unrecognized request URL ({call.path})")

    def _update_subscription(self, sub: dict, call: StubCall) -> tuple[int, dict]:
        params = call.params
        if sub["status"] in ("canceled", "incomplete_expired"):
            return _error(400, "invalid_request_error",
                          "A canceled subscription can only update its cancellation_details "
                          "and metadata.")
        if "cancel_at_period_end" in params:
            cancel = params["cancel_at_period_end"] == "true"
            sub["cancel_at_period_end"] = cancel
            sub["canceled_at"] = int(time.time()) + self.clock_offset if cancel else None
        if "items[0][price]" in params:
            item = sub["items"]["data"][0]
            if params.get("items[0][id]") != item["id"]:
                return _error(400, "invalid_request_error",
                              "Subscription items must name an item of this subscription.")
            item["price"] = {**item["price"], "id": params["items[0][price]"]}
        if "default_payment_method" in params:
            sub["default_payment_method"] = params["default_payment_method"]
        return 200, sub

    def _create_setup_intent(self, call: StubCall) -> tuple[int, dict]:
        intent_id = self._next_id("seti")
        metadata = {key[len("metadata["):-1]: value for key, value in call.params.items()
                    if key.startswith("metadata[")}
        intent = {
            "id": intent_id, "object": "setup_intent", "status": "requires_payment_method",
            "client_secret": f"{intent_id}_secret_stub", "customer": call.params.get("customer"),
            "usage": call.params.get("usage", "off_session"), "payment_method": None,
            "payment_method_types": ["card"], "metadata": metadata,
            "created": int(time.time()) + self.clock_offset, "livemode": False,
        }
        self.setup_intents[intent_id] = intent
        return 200, intent

    def _pay_invoice(self, invoice_id: str) -> tuple[int, dict]:
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            return _error(404, "invalid_request_error", f"No such invoice: '{invoice_id}'",
                          "resource_missing")
        if invoice["status"] != "open":
            return _error(400, "invalid_request_error", "Invoice is already paid.",
                          "invoice_not_open")
        if self.decline_invoice_payment:
            return _error(402, "card_error", "Your card was declined.",
                          self.decline_invoice_payment)
        paid_at = int(time.time()) + self.clock_offset
        invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0,
                       status_transitions={"paid_at": paid_at})
        sub_id = invoice["parent"]["subscription_details"]["subscription"]
        if sub_id in self.subscriptions:  # its latest invoice paid: the subscription is active
            self.subscriptions[sub_id]["status"] = "active"
        return 200, invoice


__all__ = ["DAY", "StripeBillingStub", "StubCall", "billing_subscription"]
