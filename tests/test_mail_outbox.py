"""The email outbox: written with the change that causes it, delivered after the response by
`flask mail deliver` (once, or --watch), retried with capped backoff while SMTP is down."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from storefront.extensions import db
from storefront.models.base import utcnow
from tests.conftest import deliver_mail
from tests.support import pay, signed_event, start_purchase, wait_for

ROOT = Path(__file__).resolve().parent.parent


def outbox(app) -> list:
    """Every outbox row, oldest first, detached from the session."""
    from storefront.models import OutgoingMail

    with app.app_context():
        rows = list(db.session.scalars(db.select(OutgoingMail).order_by(OutgoingMail.id)))
        db.session.expunge_all()
        return rows


def deliver_at(app, now):
    """One delivery pass at a chosen time (the clock is injected, nothing sleeps)."""
    from storefront.outbox import deliver_due

    with app.app_context():
        return deliver_due(now=now, commit=db.session.commit)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: the mail server is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_port():
    """A loopback port that accepts connections and never answers: a hung mail server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def queue(app, to: str = "ana@example.com") -> None:
    from storefront.mail import queue_mail

    with app.test_request_context():
        queue_mail(to, "reset", user=None, link="http://localhost/account/password/reset/tok")
        db.session.commit()


@pytest.mark.parametrize("down", ["closed_port", "silent_port"])
def test_webhook_credit_does_not_wait_for_smtp_and_the_email_goes_out_later(
        make_app, seeded_with, stripe_emulator, mailbox, down, request):
    app = make_app(MAIL_PORT=request.getfixturevalue(down))
    client = app.test_client()
    started = start_purchase(client, seeded_with(app), email="ana@example.com")
    intent = pay(stripe_emulator, started["payment_intent_id"])
    payload, headers = signed_event("payment_intent.succeeded", intent)

    began = time.monotonic()
    response = client.post("/api/finances/webhooks/stripe/", data=payload, headers=headers)
    assert response.status_code == 200
    assert time.monotonic() - began < 3  # a hung server would hold it for SMTP's timeout
    [pending] = outbox(app)
    assert pending.to_address == "ana@example.com" and pending.sent_at is None

    up = make_app()  # the mail server is back
    first = up.test_cli_runner().invoke(args=["mail", "deliver"])
    assert first.exit_code == 0, first.output
    [message] = mailbox.to("ana@example.com")
    assert "5 hours" in message["Subject"] and "/account/claim/" in message.get_content()
    second = up.test_cli_runner().invoke(args=["mail", "deliver"])
    assert second.exit_code == 0 and "Sent 0" in second.output
    assert len(mailbox.received) == 1


def test_mail_is_written_in_the_same_transaction_as_its_cause(app, mailbox):
    from storefront.mail import queue_mail

    with app.test_request_context():
        queue_mail("rolled@example.com", "reset", user=None, link="http://x/reset/1")
        db.session.rollback()
        queue_mail("kept@example.com", "reset", user=None, link="http://x/reset/2")
        db.session.commit()
    assert [row.to_address for row in outbox(app)] == ["kept@example.com"]
    assert [m["To"] for m in mailbox.messages] == ["kept@example.com"]


def test_a_failed_attempt_backs_off_capped_and_is_skipped_until_due(
        make_app, mailbox, closed_port):
    down, up = make_app(MAIL_PORT=closed_port), make_app()
    queue(up)
    now = utcnow()
    report = deliver_at(down, now)
    assert report.sent == 0 and report.failed == 1
    [row] = outbox(up)
    assert row.attempts == 1 and row.sent_at is None and row.last_error
    assert row.next_attempt_at > now
    first_delay = row.next_attempt_at - now

    # Not due yet: neither cron's one-shot run nor a pass just before the time sends it.
    assert "Sent 0" in deliver_mail(up).output
    assert deliver_at(up, row.next_attempt_at - timedelta(seconds=1)).sent == 0
    assert mailbox.received == [] and outbox(up)[0].attempts == 1

    delays = [first_delay]
    for _ in range(12):  # an outage of several hours
        due = outbox(up)[0].next_attempt_at
        deliver_at(down, due)
        delays.append(outbox(up)[0].next_attempt_at - due)
    assert delays[1] > delays[0]  # the wait grows …
    assert max(delays) == delays[-1] == timedelta(hours=1)  # … up to an hour
    assert outbox(up)[0].attempts == 13

    assert deliver_at(up, outbox(up)[0].next_attempt_at).sent == 1
    [sent] = outbox(up)
    assert sent.sent_at is not None and sent.next_attempt_at is None
    assert [m["To"] for m in mailbox.received] == ["ana@example.com"]


def test_mail_undelivered_for_three_days_is_given_up(make_app, mailbox, closed_port):
    down, up = make_app(MAIL_PORT=closed_port), make_app()
    queue(up)
    deliver_at(down, utcnow() + timedelta(days=3, minutes=1))
    [row] = outbox(up)
    assert row.sent_at is None and row.next_attempt_at is None and row.attempts == 1
    assert deliver_at(up, utcnow() + timedelta(days=4)).sent == 0


def test_a_message_that_cannot_be_built_is_retried_then_given_up(app, mailbox):
    from storefront.models import OutgoingMail

    with app.app_context():  # a header break in the address: no email can be made of it
        db.session.add(OutgoingMail(
            to_address="ana@example.com\nBcc: eve@example.com", subject="Reset",
            body="http://localhost/account/password/reset/secret-token\n", template="reset",
            next_attempt_at=utcnow()))
        db.session.commit()
    queue(app, "ben@example.com")
    now = utcnow()

    report = deliver_at(app, now)
    assert (report.sent, report.failed, report.stopped_early) == (1, 1, False)
    broken, fine = outbox(app)
    assert fine.sent_at is not None  # the pass went on to the next message
    assert broken.attempts == 1 and broken.sent_at is None
    assert broken.next_attempt_at == now + timedelta(seconds=30)
    assert broken.last_error.startswith("ValueError: ")
    assert "http" not in broken.last_error and "secret-token" not in broken.last_error

    later = now + timedelta(days=3, minutes=1)
    assert deliver_at(app, later).failed == 1
    [broken, _] = outbox(app)
    assert broken.attempts == 2 and broken.next_attempt_at is None  # given up
    assert deliver_at(app, later + timedelta(days=1)).failed == 0
    assert [m["To"] for m in mailbox.received] == ["ben@example.com"]


def test_mail_with_accents_symbols_and_long_lines_arrives_exactly_as_written(make_app, mailbox):
    from storefront.models import OutgoingMail

    app = make_app(MAIL_DEFAULT_SENDER="Storefront Zürich <no-reply@example.com>")
    subject = "Your 5 hours are ready — €75.00, Überweisung bestätigt"
    body = ("Hello Zoë Ñúñez,\n\nThe Premium Package (¥12000 or €75.00) is yours: "
            + "a line long enough to need folding in the raw message " * 3 + "\n")
    with app.app_context():
        db.session.add(OutgoingMail(to_address="zoe@example.com", subject=subject, body=body,
                                    template="claim", next_attempt_at=utcnow()))
        db.session.commit()
    assert deliver_at(app, utcnow()).sent == 1
    [message] = mailbox.received
    assert message["Subject"] == subject
    assert message.get_content().replace("\r\n", "\n") == body  # SMTP's line ends
    assert message["To"] == "zoe@example.com"
    assert message["From"].addresses[0].display_name == "Storefront Zürich"
    assert message["From"].addresses[0].addr_spec == "no-reply@example.com"


def test_a_pass_sends_its_mail_over_one_connection_to_the_mail_server(app, mailbox):
    for n in range(30):
        queue(app, f"student{n}@example.com")
    report = deliver_at(app, utcnow())
    assert (report.sent, report.failed) == (30, 0)
    assert sorted(m["To"] for m in mailbox.received) == sorted(
        f"student{n}@example.com" for n in range(30))
    assert mailbox.connections == 1
    assert all(row.attempts == 1 and row.sent_at and row.body is None for row in outbox(app))


def test_a_pass_stopped_by_an_unreachable_server_leaves_the_rest_due_and_unattempted(
        make_app, mailbox, closed_port):
    down, up = make_app(MAIL_PORT=closed_port), make_app()
    for n in range(5):
        queue(up, f"student{n}@example.com")
    now = utcnow()
    report = deliver_at(down, now)
    assert (report.sent, report.failed, report.stopped_early) == (0, 1, True)
    first, *rest = outbox(up)
    assert first.attempts == 1 and first.next_attempt_at > now and first.last_error
    # The others were not tried: no attempt counted, due at once for the next pass.
    assert all(row.attempts == 0 and row.next_attempt_at <= now and row.last_error is None
               for row in rest)
    assert deliver_at(up, now).sent == 4


def test_two_workers_at_once_send_each_mail_once(make_app, mailbox):
    first, second = make_app(), make_app()
    for n in range(20):
        queue(first, f"student{n}@example.com")
    reports = []

    def work(app) -> None:
        reports.append(deliver_at(app, utcnow()))

    workers = [threading.Thread(target=work, args=(app,)) for app in (first, second)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sum(report.sent for report in reports) == 20
    assert sorted(m["To"] for m in mailbox.received) == sorted(
        f"student{n}@example.com" for n in range(20))
    assert all(row.attempts == 1 and row.sent_at for row in outbox(first))


def test_without_a_mail_server_delivery_writes_files(make_app, mailbox, tmp_path):
    app = make_app(MAIL_SERVER=None, MAIL_OUTBOX_DIR=str(tmp_path))
    queue(app, "dev@example.com")
    assert deliver_mail(app).exit_code == 0
    [written] = list(tmp_path.glob("*.eml"))
    assert "To: dev@example.com" in written.read_text()
    assert outbox(app)[0].sent_at is not None


def test_a_plain_english_email_keeps_its_links_whole_in_the_raw_message(make_app, mailbox,
                                                                        tmp_path):
    app = make_app(MAIL_SERVER=None, MAIL_OUTBOX_DIR=str(tmp_path))
    link = "http://localhost/account/password/reset/" + "t0k3n" * 30
    with app.test_request_context():
        from storefront.mail import queue_mail

        queue_mail("dev@example.com", "reset", user=None, link=link)
        db.session.commit()
    assert deliver_mail(app).exit_code == 0
    [written] = list(tmp_path.glob("*.eml"))
    assert link in written.read_text()  # a developer can follow it from the file


def test_watch_worker_delivers_new_mail_and_stops_on_sigterm(app, database, mailbox,
                                                             stripe_emulator):
    env = {**os.environ, "FLASK_APP": "wsgi.py", "STOREFRONT_ENV": "testing",
           "DATABASE_URL": database.url, "MAIL_SERVER": "127.0.0.1",
           "MAIL_PORT": str(mailbox.port), "STRIPE_API_BASE": stripe_emulator.base_url}
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "mail", "deliver", "--watch", "--interval", "0.2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "Watching the outbox" in worker.stdout.readline()
        queue(app, "later@example.com")
        wait_for(lambda: [m for m in mailbox.received if m["To"] == "later@example.com"],
                 timeout=30)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        worker.stdout.close()
    assert outbox(app)[0].sent_at is not None
