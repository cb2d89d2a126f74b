"""flask hours expire, flask hours notify-expiring, flask stripe reconcile."""

from __future__ import annotations

from datetime import timedelta

from storefront import ledger
from storefront.extensions import db
from storefront.models import Balance, Purchase
from storefront.models.base import utcnow
from storefront.outbox import deliver_due
from tests.support import pay, start_purchase


def minutes(app, student) -> int:
    with app.app_context():
        assert ledger.verify_ledger() == []
        return db.session.get(Balance, student).available_minutes


def test_hours_expire_with_grace_dry_run_and_twice(app, runner, buy, student_id):
    buy("Basic Package", expires_in=timedelta(hours=-30))
    buy("Standard Package", expires_in=timedelta(hours=-5))
    sam = student_id()
    dry = runner.invoke(args=["hours", "expire", "--grace-hours", "24", "--dry-run"])
    assert dry.exit_code == 0 and "Would expire 300 minutes in 1 lot(s)." in dry.output
    assert minutes(app, sam) == 900
    done = runner.invoke(args=["hours", "expire", "--grace-hours", "24"])
    assert "Expired 300 minutes in 1 lot(s)." in done.output and minutes(app, sam) == 600
    again = runner.invoke(args=["hours", "expire", "--grace-hours", "24"])
    assert "Expired 0 minutes in 0 lot(s)." in again.output
    default_grace = runner.invoke(args=["hours", "expire"])  # 24 hours by default
    assert "Expired 0 minutes" in default_grace.output
    runner.invoke(args=["hours", "expire", "--grace-hours", "0"])
    assert minutes(app, sam) == 0


def test_notify_expiring_once_per_lot_and_window(app, runner, buy, mailbox):
    buy("Basic Package", expires_in=timedelta(days=3))
    buy("Standard Package", expires_in=timedelta(days=20))
    buy("Premium Package", expires_in=timedelta(days=-1))
    mailbox.messages.clear()
    first = runner.invoke(args=["hours", "notify-expiring", "--days", "7"])
    assert "Reminded 1 lot(s)." in first.output
    [message] = mailbox.messages
    assert message["To"] == "sam@example.com" and "5 hours expire on" in message["Subject"]
    assert "Basic Package" in message.get_content()
    assert "Reminded 0 lot(s)." in runner.invoke(
        args=["hours", "notify-expiring", "--days", "7"]).output
    wider = runner.invoke(args=["hours", "notify-expiring", "--days", "30"])
    assert "Reminded 2 lot(s)." in wider.output and len(mailbox.messages) == 3


def test_reconcile_fulfils_a_lost_webhook_and_is_idempotent(app, runner, client, seeded,
                                                            stripe_emulator, student_id):
    started = start_purchase(client, seeded["Basic Package"], email="sam@example.com")
    pay(stripe_emulator, started["payment_intent_id"])  # the webhook never arrives
    start_purchase(client, seeded["Standard Package"], email="sam@example.com")  # unpaid
    result = runner.invoke(args=["stripe", "reconcile", "--since", "1h"])
    assert result.exit_code == 0, result.output
    assert f"purchase {started['transaction_id']}" in result.output
    assert "1 fulfilled" in result.output
    assert minutes(app, student_id()) == 300
    again = runner.invoke(args=["stripe", "reconcile", "--since", "1h"])
    assert again.exit_code == 0 and "0 fulfilled" in again.output
    assert minutes(app, student_id()) == 300


def test_reconcile_applies_refunds_and_reports_mismatches(app, runner, client, buy,
                                                           stripe_emulator, student_id):
    purchase_id = buy("Basic Package")
    with app.app_context():
        intent_id = db.session.get(Purchase, purchase_id).payment_intent_id
    stripe_emulator.client().v1.refunds.create(
        params={"payment_intent": intent_id, "amount": 7500})  # refunded, event lost
    refunded = runner.invoke(args=["stripe", "reconcile", "--since", "1h"])
    assert refunded.exit_code == 0 and "1 refund(s) applied" in refunded.output
    assert minutes(app, student_id()) == 0

    # A payment whose amount disagrees with our purchase is reported and exits 1.
    mismatch = stripe_emulator.client().v1.payment_intents.create(params={
        "amount": 100, "currency": "eur", "payment_method_types": ["card"],
        "metadata": {"purchase_id": "424242"}})
    result = runner.invoke(args=["stripe", "reconcile", "--since", "1h"])
    assert result.exit_code == 1
    assert f"MISMATCH {mismatch.id}: names purchase 424242" in result.output


def test_reconcile_reports_an_amount_mismatch(app, runner, client, seeded, stripe_emulator):
    started = start_purchase(client, seeded["Basic Package"])
    with app.app_context():
        db.session.get(Purchase, started["transaction_id"]).price_minor = 9900
        db.session.commit()
    pay(stripe_emulator, started["payment_intent_id"])
    result = runner.invoke(args=["stripe", "reconcile", "--since", "1h"])
    assert result.exit_code == 1
    assert "Stripe has 7500 eur, we have 9900 eur" in result.output


def test_reconcile_duration_is_checked(runner, app):
    result = runner.invoke(args=["stripe", "reconcile", "--since", "yesterday"])
    assert result.exit_code == 2 and "72h" in result.output


def test_reconcile_finds_a_recent_refund_of_an_older_payment(app, runner, buy,
                                                             stripe_emulator, student_id):
    purchase_id = buy("Basic Package")
    with app.app_context():
        intent_id = db.session.get(Purchase, purchase_id).payment_intent_id
    # The payment is older than the window: only its refund is recent.
    import time

    time.sleep(3.1)
    stripe_emulator.client().v1.refunds.create(
        params={"payment_intent": intent_id, "amount": 3750})
    result = runner.invoke(args=["stripe", "reconcile", "--since", "2s"])
    assert result.exit_code == 0, result.output
    assert "Checked 0 payment(s)" in result.output
    assert "refund of 3750 applied" in result.output
    assert minutes(app, student_id()) == 150


def test_reconcile_without_stripe_exits_2(make_app, stripe_stub):
    app = make_app(STRIPE_API_BASE=stripe_stub.base_url)
    stripe_stub.respond(500, {"error": {"type": "api_error", "message": "down"}})
    result = app.test_cli_runner().invoke(args=["stripe", "reconcile"])
    assert result.exit_code == 2 and "Stripe could not be read (api_error)" in result.output


def test_a_reminder_that_could_not_be_sent_goes_out_next_run(make_app, buy, mailbox):
    from datetime import timedelta

    buy("Basic Package", expires_in=timedelta(days=3))
    mailbox.messages.clear()
    down = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=9)  # nothing listens there
    queued = down.test_cli_runner().invoke(args=["hours", "notify-expiring"])
    assert queued.exit_code == 0 and "Reminded 1 lot(s)." in queued.output
    failed = down.test_cli_runner().invoke(args=["mail", "deliver"])
    assert failed.exit_code == 1 and "1 failed" in failed.output
    again = down.test_cli_runner().invoke(args=["hours", "notify-expiring"])
    assert "Reminded 0 lot(s)." in again.output  # recorded once, with its outbox row
    assert mailbox.received == []
    up = make_app()
    with up.app_context():  # a minute later the retry is due
        report = deliver_due(now=utcnow() + timedelta(minutes=1), commit=db.session.commit)
    assert report.sent == 1
    assert len(mailbox.messages) == 1
