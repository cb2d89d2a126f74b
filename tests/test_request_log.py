"""The request log: one line per request with a request id (also sent back as X-Request-ID),
JSON lines in production; and nothing secret in any log line of a whole purchase, refund,
login and password reset (keys, webhook secret, client secret, passwords, link tokens)."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import urlsplit

import pytest
import requests

from storefront.extensions import db
from storefront.models import Purchase
from tests.conftest import PASSWORD
from tests.support import (
    INITIATE_URL,
    STRIPE_SECRET_KEY,
    WEBHOOK_SECRET,
    pay,
    wait_for,
)

CLAIMED_PASSWORD = "quiet-meadow-copper-77"
RESET_PASSWORD = "amber-glacier-willow-19"
APP_SECRET_KEY = "test-secret-key"
REQUEST_LOGGER = "storefront.requests"


def _csrf(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=30).text
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def _form(session: requests.Session, url: str, **fields) -> requests.Response:
    return session.post(url, data={"csrf_token": _csrf(session, url), **fields}, timeout=30,
                        allow_redirects=False)


def _emailed_path(mailbox, address: str) -> str:
    return urlsplit(mailbox.last_link(address)).path


def _status(app, purchase_id: int) -> str:
    with app.app_context():
        return db.session.get(Purchase, purchase_id).status


def test_no_secret_reaches_the_logs_of_a_purchase_refund_login_and_reset(
    app, live_server, seeded, stripe_emulator, mailbox, make_user, caplog
):
    caplog.set_level(logging.DEBUG)
    base = live_server.url
    secrets = {"Stripe secret key": STRIPE_SECRET_KEY, "webhook secret": WEBHOOK_SECRET,
               "app secret key": APP_SECRET_KEY, "staff password": PASSWORD,
               "claimed password": CLAIMED_PASSWORD, "reset password": RESET_PASSWORD}

    # A guest buys, pays with a test card; Stripe's webhook credits; Stripe sends them back.
    buyer = requests.Session()
    started = buyer.post(base + INITIATE_URL, timeout=30, json={
        "plan_id": seeded["Standard Package"],
        "student_info": {"name": "Ana Silva", "email": "ana@example.com"}}).json()
    secrets["client secret"] = started["client_secret"]
    intent = pay(stripe_emulator, started["payment_intent_id"])
    wait_for(lambda: _status(app, started["transaction_id"]) == "completed")
    assert buyer.get(f"{base}/checkout/complete?payment_intent={intent['id']}"
                     f"&payment_intent_client_secret={intent['client_secret']}",
                     timeout=30).status_code == 200

    # The guest claims the account through the emailed link, and logs in elsewhere.
    claim = _emailed_path(mailbox, "ana@example.com")
    assert claim.startswith("/account/claim/")
    secrets["claim token"] = claim.rsplit("/", 1)[-1]
    assert _form(buyer, base + claim, password=CLAIMED_PASSWORD,
                 confirm=CLAIMED_PASSWORD).status_code == 302
    assert _form(requests.Session(), base + "/account/login", email="ana@example.com",
                 password=CLAIMED_PASSWORD).status_code == 302

    # She forgets it and resets it through the emailed link.
    forgetful = requests.Session()
    assert _form(forgetful, base + "/account/password/forgot",
                 email="ana@example.com").status_code == 200
    reset = _emailed_path(mailbox, "ana@example.com")
    assert reset.startswith("/account/password/reset/")
    secrets["reset token"] = reset.rsplit("/", 1)[-1]
    assert _form(forgetful, base + reset, password=RESET_PASSWORD,
                 confirm=RESET_PASSWORD).status_code == 302

    # Staff log in and refund half; Stripe's charge.refunded comes back.
    make_user("staff@example.com", "Stella Staff", staff=True)
    staff = requests.Session()
    assert _form(staff, base + "/account/login", email="staff@example.com",
                 password=PASSWORD).status_code == 302
    refund = _form(staff, f"{base}/staff/purchases/{started['transaction_id']}/refund",
                   amount="70.00", reason="Moved away", request_key="refund-1")
    assert refund.status_code in (200, 302)
    wait_for(lambda: _status(app, started["transaction_id"]) == "partially_refunded")

    # The server's logs: everything but the test's own browser (requests) talking to it, and
    # the test's own mail server (aiosmtpd logs each line it receives: the emailed links are
    # meant to reach it, as they reach the mail provider).
    records = [r for r in caplog.records
               if not (r.name.startswith("urllib3") and base in r.getMessage())
               and r.name != "mail.log"]
    assert len(records) > 20
    text = "\n".join(caplog.handler.format(r) for r in records)
    leaked = {name for name, value in secrets.items() if value in text}
    assert leaked == set(), f"in the logs: {sorted(leaked)}"
    assert "GET /account/password/reset/[redacted]" in text  # the request log saw them

    from storefront.logs import JsonLineFormatter  # production's format

    json_lines = "\n".join(JsonLineFormatter().format(record) for record in records)
    assert {name for name, value in secrets.items() if value in json_lines} == set()


def test_one_log_line_per_request_with_its_request_id(client, caplog):
    caplog.set_level(logging.INFO)
    response = client.get("/api/finances/api/pricing-plans/")
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    [line] = [r for r in caplog.records if r.name == REQUEST_LOGGER]
    assert line.request_id == request_id
    assert (line.method, line.path, line.status) == ("GET", "/api/finances/api/pricing-plans/",
                                                     200)
    assert isinstance(line.duration_ms, float)


@pytest.mark.parametrize("incoming, kept", [
    ("3f2b9c1e-8d7a-4b6c-9e0f-1a2b3c4d5e6f", True),
    ("lb-7f3a9.17", True),
    ("x" * 201, False),
    ("bad id with spaces", False),
    ("<script>", False),
])
def test_a_valid_incoming_request_id_is_kept(client, caplog, incoming, kept):
    caplog.set_level(logging.INFO)
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    returned = response.headers["X-Request-ID"]
    assert (returned == incoming) is kept
    [line] = [r for r in caplog.records if r.name == REQUEST_LOGGER]
    assert line.request_id == returned


def test_link_tokens_and_query_strings_are_not_in_the_request_log(client, caplog):
    caplog.set_level(logging.INFO)
    client.get("/account/claim/abc.DEF-123_claimtoken")
    client.get("/account/password/reset/abc.DEF-456_resettoken")
    client.get("/account/register/confirm/abc.DEF-789_confirmtoken")
    client.get("/checkout/complete?payment_intent=pi_1&payment_intent_client_secret=pi_1_secret_x")
    paths = [r.path for r in caplog.records if r.name == REQUEST_LOGGER]
    assert paths == ["/account/claim/[redacted]", "/account/password/reset/[redacted]",
                     "/account/register/confirm/[redacted]", "/checkout/complete"]
    assert "token" not in caplog.text and "pi_1_secret_x" not in caplog.text


def test_production_logs_are_json_lines(caplog):
    from storefront.logs import JsonLineFormatter

    record = logging.LogRecord("storefront.requests", logging.INFO, __file__, 1,
                               "GET /healthz 200", None, None)
    record.request_id, record.method, record.path, record.status = "abc", "GET", "/healthz", 200
    line = json.loads(JsonLineFormatter().format(record))
    assert line["message"] == "GET /healthz 200" and line["request_id"] == "abc"
    assert (line["level"], line["logger"], line["status"]) == ("INFO", "storefront.requests", 200)


def test_development_server_request_lines_are_redacted(app):
    """The werkzeug server's lines (colored for redirects) lose tokens and query strings."""
    from storefront.logs import PathRedactor, RequestLineFilter

    line = ('127.0.0.1 - - [27/Nov/2026 11:09:55] "%s" %s -')
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, line, (
        "\x1b[32mGET /account/claim/abc.def?next=/x&payment_intent_client_secret=pi_s HTTP/1.1"
        "\x1b[0m", "302"), None)
    RequestLineFilter(PathRedactor(app)).filter(record)
    assert record.getMessage() == ('127.0.0.1 - - [27/Nov/2026 11:09:55] '
                                   '"\x1b[32mGET /account/claim/[redacted] HTTP/1.1\x1b[0m" 302 -')


def test_the_production_app_logs_json_lines_and_development_text(app):
    from storefront import create_app
    from storefront.logs import JsonLineFormatter
    from tests.test_config import PRODUCTION

    def formatters(application) -> list[type]:
        return [type(h.formatter) for h in application.logger.handlers]

    assert formatters(create_app(PRODUCTION)) == [JsonLineFormatter]
    testing = {"STOREFRONT_ENV": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    assert formatters(create_app(testing)) == [logging.Formatter]
