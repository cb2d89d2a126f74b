"""flask hours expire, flask hours notify-expiring, flask stripe reconcile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storefront import ledger
from storefront.extensions import db
from storefront.models import Balance, Lot, Purchase
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
    # The payment is made while Stripe's clock runs a minute behind, the refund once it is
    # back on time: the window starts at the refund, so the payment is older than it.
    stripe_emulator.move_clock(-60)
    purchase_id = buy("Basic Package")
    with app.app_context():
        intent_id = db.session.get(Purchase, purchase_id).payment_intent_id
    stripe_emulator.move_clock(0)
    refund = stripe_emulator.client().v1.refunds.create(
        params={"payment_intent": intent_id, "amount": 3750})
    since = datetime.fromtimestamp(refund.created, UTC).isoformat().replace("+00:00", "Z")
    result = runner.invoke(args=["stripe", "reconcile", "--since", since])
    assert result.exit_code == 0, result.output
    assert "Checked 0 payment(s)" in result.output
    assert "refund of 3750 applied" in result.output
    assert minutes(app, student_id()) == 150


def test_reconcile_since_a_moment_is_checked(runner, app):
    future = runner.invoke(args=["stripe", "reconcile", "--since", "2999-01-01T00:00:00Z"])
    assert future.exit_code == 2 and "in the past" in future.output


def test_a_huge_validity_does_not_stop_reconcile(app, runner, client, seeded, stripe_emulator,
                                                 student_id):
    huge = start_purchase(client, seeded["Basic Package"], email="sam@example.com")
    with app.app_context():
        db.session.get(Purchase, huge["transaction_id"]).validity_days = 3_000_000
        db.session.commit()
    normal = start_purchase(client, seeded["Standard Package"], email="sam@example.com")
    for started in (huge, normal):
        pay(stripe_emulator, started["payment_intent_id"])  # webhooks lost
    result = runner.invoke(args=["stripe", "reconcile", "--since", "1h"])
    assert result.exit_code == 0, result.output
    assert "2 fulfilled" in result.output
    assert minutes(app, student_id()) == 900


def test_reconcile_reports_a_purchase_it_cannot_settle_and_goes_on(app, runner, client, seeded,
                                                                   stripe_emulator):
    normal = start_purchase(client, seeded["Standard Package"], email="sam@example.com")
    bad = start_purchase(client, seeded["Basic Package"], email="ann@example.com")
    with app.app_context():
        # Damaged data: a lot already names this unpaid purchase, so crediting it fails.
        purchase = db.session.get(Purchase, bad["transaction_id"])
        db.session.add(Lot(student_id=purchase.student_id, purchase_id=purchase.id,
                           minutes_granted=300, minutes_remaining=0))
        db.session.commit()
    for started in (normal, bad):
        pay(stripe_emulator, started["payment_intent_id"])  # webhooks lost
    result = runner.invoke(args=["stripe", "reconcile", "--since", "1h"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"FAILED purchase {bad['transaction_id']}" in result.output
    assert f"purchase {normal['transaction_id']} ({normal['payment_intent_id']}): " \
        "hours credited" in result.output
    assert "1 fulfilled" in result.output and "1 failure(s)" in result.output
    with app.app_context():
        assert db.session.get(Purchase, normal["transaction_id"]).status == "completed"
        assert db.session.get(Purchase, bad["transaction_id"]).status == "pending"
        sam = db.session.get(Purchase, normal["transaction_id"]).student_id
        assert db.session.get(Balance, sam).available_minutes == 600


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


def test_reconcile_reports_a_payment_stripe_cannot_look_up_and_goes_on(
        make_app, app, client, seeded, stripe_emulator, stripe_stub, student_id):
    from tests.support import stripe_error

    unknown = start_purchase(client, seeded["Basic Package"], email="sam@example.com")
    normal = start_purchase(client, seeded["Standard Package"], email="sam@example.com")
    for started in (unknown, normal):
        pay(stripe_emulator, started["payment_intent_id"])  # webhooks lost
    # Stripe lists both payments but cannot look one of them up.
    stripe_stub.forward_to(stripe_emulator)
    stripe_stub.respond_at(f"/v1/payment_intents/{unknown['payment_intent_id']}", 404,
                           stripe_error("invalid_request_error", "No such payment_intent",
                                        code="resource_missing"))
    through_stub = make_app(STRIPE_API_BASE=stripe_stub.base_url)
    result = through_stub.test_cli_runner().invoke(args=["stripe", "reconcile", "--since", "1h"])
    assert result.exit_code == 1, result.output
    assert f"FAILED purchase {unknown['transaction_id']}" in result.output
    assert f"purchase {normal['transaction_id']} ({normal['payment_intent_id']}): " \
        "hours credited" in result.output
    assert "1 fulfilled" in result.output and "1 failure(s)" in result.output
    assert minutes(app, student_id()) == 600


def test_reconcile_stops_when_stripe_refuses_every_request(make_app, client, seeded,
                                                           stripe_emulator, stripe_stub):
    from tests.support import stripe_error

    started = start_purchase(client, seeded["Basic Package"], email="sam@example.com")
    pay(stripe_emulator, started["payment_intent_id"])
    stripe_stub.forward_to(stripe_emulator)
    stripe_stub.respond_at(f"/v1/payment_intents/{started['payment_intent_id']}", 429,
                           stripe_error("rate_limit_error", "Too many requests"))
    through_stub = make_app(STRIPE_API_BASE=stripe_stub.base_url)
    result = through_stub.test_cli_runner().invoke(args=["stripe", "reconcile", "--since", "1h"])
    assert result.exit_code == 2 and "(rate_limit_error)" in result.output
