"""The mail server down through a whole day of business: every email waits in the outbox,
none is given up or lost, and each is delivered exactly once when the server comes back on
its address."""

from __future__ import annotations

import email
import email.policy
import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from storefront.extensions import db
from storefront.models import OutgoingMail
from storefront.models.base import utcnow
from storefront.outbox import deliver_due
from tests.conftest import csrf_token
from tests.support import pay, signed_event, start_purchase

OUTAGE = timedelta(hours=36)


@pytest.fixture
def mail_port() -> int:
    """The mail server's address; nothing listens there until the test starts it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ReturningMailServer:
    """A real SMTP server started on the port the app was configured with."""

    def __init__(self, port: int) -> None:
        self.received: list[email.message.EmailMessage] = []
        received = self.received

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                received.append(email.message_from_bytes(envelope.content,
                                                         policy=email.policy.default))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        self.controller.start()


def _unsent(app) -> list[OutgoingMail]:
    with app.app_context():
        rows = list(db.session.scalars(
            db.select(OutgoingMail).where(OutgoingMail.sent_at.is_(None))))
        db.session.expunge_all()
        return rows


def _pass(app, now):
    with app.app_context():
        return deliver_due(now=now, commit=db.session.commit)


def test_mail_server_down_for_the_whole_run_loses_nothing(
        make_app, seeded_with, make_user, stripe_emulator, mail_port):
    app = make_app(MAIL_PORT=mail_port)
    client = app.test_client()
    # A guest buys hours (receipt with a claim link) and a student asks for a reset link.
    started = start_purchase(client, seeded_with(app), email="ana@example.com")
    payload, headers = signed_event("payment_intent.succeeded",
                                    pay(stripe_emulator, started["payment_intent_id"]))
    assert client.post("/api/finances/webhooks/stripe/", data=payload,
                       headers=headers).status_code == 200
    make_user("sam@example.com", "Sam Student")
    response = client.post("/account/password/forgot", data={
        "csrf_token": csrf_token(client, "/account/password/forgot"),
        "email": "sam@example.com"})
    assert response.status_code in (200, 302)
    expected = {"ana@example.com", "sam@example.com"}
    assert {row.to_address for row in _unsent(app)} == expected

    # The worker keeps trying, at every due time, through the outage.
    now, passes = utcnow(), 0
    end = now + OUTAGE
    while now < end:
        report = _pass(app, now)
        passes += 1
        assert report.sent == 0
        waiting = _unsent(app)
        assert {row.to_address for row in waiting} == expected  # nothing lost …
        assert all(row.next_attempt_at is not None for row in waiting)  # … or given up
        now = min(row.next_attempt_at for row in waiting)
    assert passes > 30

    server = ReturningMailServer(mail_port)  # back, on the same address
    try:
        # Each row is retried at its own time, at most an hour apart once backed off.
        last_due = max(row.next_attempt_at for row in _unsent(app))
        assert last_due - now <= timedelta(hours=1)
        report = _pass(app, last_due)
        assert (report.sent, report.failed) == (2, 0)
        assert _pass(app, last_due + timedelta(hours=2)).sent == 0
    finally:
        server.controller.stop()
    assert sorted(m["To"] for m in server.received) == sorted(expected)
    [receipt] = [m for m in server.received if m["To"] == "ana@example.com"]
    assert "/account/claim/" in receipt.get_content()
    [reset] = [m for m in server.received if m["To"] == "sam@example.com"]
    assert "/account/password/reset/" in reset.get_content()
    assert _unsent(app) == []
