"""Guest purchases claimed by email, logged-in purchases, the dashboard and receipts."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import text

from storefront import ledger
from storefront.extensions import db
from storefront.models import Lot, User
from storefront.models.base import utcnow
from tests.conftest import csrf_token, log_in
from tests.support import WEBHOOK_PATH, pay, signed_event, start_purchase

NEW_PASSWORD = "quiet-meadow-copper-77"


def visible_text(html: str) -> str:
    """What a person reads: tags dropped, white space folded."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def pay_and_deliver(client, stripe_emulator, started) -> None:
    intent = pay(stripe_emulator, started["payment_intent_id"])
    payload, headers = signed_event("payment_intent.succeeded", intent)
    assert client.post(WEBHOOK_PATH, data=payload, headers=headers).status_code == 200


def test_guest_claims_the_account_by_email_and_sees_the_hours(
    app, client, seeded, stripe_emulator, mailbox
):
    started = start_purchase(client, seeded["Basic Package"], email="ana@example.com")
    intent = pay(stripe_emulator, started["payment_intent_id"])
    complete = client.get(f"/checkout/complete?payment_intent={intent['id']}"
                          f"&payment_intent_client_secret={intent['client_secret']}")
    html = complete.get_data(as_text=True)
    assert "emailed ana@example.com a confirmation, with a link to see the hours" in html

    [message] = mailbox.to("ana@example.com")
    assert "5 hours" in message["Subject"]
    path = mailbox.last_link("ana@example.com").split("localhost", 1)[1]
    assert path.startswith("/account/claim/")
    claim_page = client.get(path)
    assert "Set a password" in claim_page.get_data(as_text=True)
    done = client.post(path, data={"csrf_token": csrf_token(client, path),
                                   "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    dashboard = client.get("/account").get_data(as_text=True)
    assert 'data-available-minutes="300"' in dashboard and "Basic Package" in dashboard

    # Single use: the link is dead now, and the password works on a new device.
    assert app.test_client().get(path).status_code == 400
    log_in(app.test_client(), "ana@example.com", NEW_PASSWORD)


def test_guest_purchase_for_an_existing_account_credits_it_and_logs_nobody_in(
    app, client, seeded, stripe_emulator, mailbox, make_user
):
    make_user("sam@example.com", "Sam Student")
    started = start_purchase(client, seeded["Basic Package"], email="sam@example.com",
                             name="Someone Else")
    pay_and_deliver(client, stripe_emulator, started)
    assert client.get("/account").status_code == 302  # still not logged in
    [message] = mailbox.to("sam@example.com")
    assert "added to your account" in message["Subject"]
    assert "/account/claim/" not in message.get_content()
    with app.app_context():
        sam = db.session.scalars(db.select(User).where(User.email == "sam@example.com")).one()
        assert sam.name == "Sam Student"
        assert ledger.student_statement(sam)["available_minutes"] == 300


def test_logged_in_purchase_through_the_checkout(app, client, seeded, stripe_emulator,
                                                 make_user, mailbox):
    make_user("sam@example.com", "Sam Student")
    log_in(client, "sam@example.com")
    plan_id = seeded["Standard Package"]
    response = client.post(f"/checkout/{plan_id}", data={"csrf_token": csrf_token(client)})
    pay_page = client.get(response.headers["Location"]).get_data(as_text=True)
    secret = re.search(r'data-client-secret="([^"]+)"', pay_page).group(1)
    intent_id = secret.split("_secret_")[0]
    pay(stripe_emulator, intent_id)
    complete = client.get(f"/checkout/complete?payment_intent={intent_id}"
                          f"&payment_intent_client_secret={secret}").get_data(as_text=True)
    assert "See my hours" in complete
    dashboard = client.get("/account").get_data(as_text=True)
    assert 'data-available-minutes="600"' in dashboard
    assert "added to your account" in mailbox.to("sam@example.com")[-1]["Subject"]


def _buy(client, stripe_emulator, plan_id, email="sam@example.com"):
    started = start_purchase(client, plan_id, email=email, name="Sam Student")
    pay_and_deliver(client, stripe_emulator, started)
    return started["transaction_id"]


def _expire_in(app, transaction_id, delta):
    with app.app_context():
        lot = db.session.scalars(db.select(Lot).where(Lot.purchase_id == transaction_id)).one()
        lot.expires_at = utcnow() + delta
        db.session.commit()


def student_with_history(app, client, seeded, stripe_emulator):
    """Sam: an active package partly used, one expiring in 3 days, one expired, one failed."""
    active = _buy(client, stripe_emulator, seeded["Premium Package"])  # 20 h, 60 days
    expiring = _buy(client, stripe_emulator, seeded["Basic Package"])  # 5 h
    expired = _buy(client, stripe_emulator, seeded["Standard Package"])  # 10 h
    _expire_in(app, expiring, timedelta(days=3))
    _expire_in(app, expired, timedelta(days=-2))
    with app.app_context():
        sam = db.session.scalars(db.select(User).where(User.email == "sam@example.com")).one()
        # 6 h: 5 h from the soonest-expiring usable lot, then 1 h from the next.
        ledger.consume_minutes(student_id=sam.id, minutes=360, session_ref="session-algebra-1",
                               now=utcnow())
        ledger.consume_minutes(student_id=sam.id, minutes=90, session_ref="session-essay-2",
                               now=utcnow())
        db.session.commit()
        assert ledger.verify_ledger() == []
    failed = start_purchase(client, seeded["Intensive Package"], email="sam@example.com",
                            name="Sam Student")
    declined = pay(stripe_emulator, failed["payment_intent_id"], "pm_card_chargeCustomerFail")
    payload, headers = signed_event("payment_intent.payment_failed", declined)
    client.post(WEBHOOK_PATH, data=payload, headers=headers)
    return active, expiring, expired, failed["transaction_id"]


def test_dashboard_shows_active_expiring_expired_and_used_hours(
    app, client, seeded, stripe_emulator, make_user
):
    make_user("sam@example.com", "Sam Student")
    active, expiring, expired, failed = student_with_history(app, client, seeded,
                                                             stripe_emulator)
    log_in(client, "sam@example.com")
    html = client.get("/account").get_data(as_text=True)
    # 20 h - 1.5 h (the second session) - 1 h (the first one's remainder) = 17.5 h usable.
    assert 'data-available-minutes="1050"' in html and ">17.50<" in html
    active_part = visible_text(html.split('id="sessions-heading"')[0])
    assert "Premium Package" in active_part and "17.5 hours left of 20 hours" in active_part
    assert "expires in 60 days" in active_part or "expires in 59 days" in active_part
    # The Basic Package was used up by the first session, so it is not listed as active.
    assert "Basic Package" not in active_part
    assert "session-algebra-1" in html and "session-essay-2" in html and ">6.00<" in html
    expired_part = visible_text(html.split('id="expired-heading"')[1])
    assert "Standard Package" in expired_part and "0 hours used of 10 hours" in expired_part
    assert "Failed" in html and "Intensive Package" in html
    assert f'href="/account/purchases/{active}"' in html
    assert f'href="/account/purchases/{failed}"' not in html


def test_expiring_package_gets_the_warning_style(app, client, seeded, stripe_emulator,
                                                 make_user):
    make_user("sam@example.com", "Sam Student")
    soon = _buy(client, stripe_emulator, seeded["Basic Package"])
    later = _buy(client, stripe_emulator, seeded["Standard Package"])
    _expire_in(app, soon, timedelta(days=5, hours=1))
    log_in(client, "sam@example.com")
    html = client.get("/account").get_data(as_text=True)
    assert re.search(rf'class="package expiring" data-transaction-id="{soon}"', html)
    assert re.search(rf'class="package" data-transaction-id="{later}"', html)
    assert "expires in 6 days" in html and "expires in 45 days" in html


def test_empty_dashboard_says_what_to_do_next(client, make_user):
    make_user("new@example.com", "New Student")
    log_in(client, "new@example.com")
    html = client.get("/account").get_data(as_text=True)
    assert 'data-available-minutes="0"' in html
    assert "No active packages" in html and "Choose a package" in html
    assert "No sessions yet" in html and "No purchases yet" in html


def test_receipt_is_visible_to_its_owner_only(app, client, seeded, stripe_emulator,
                                              make_user):
    make_user("sam@example.com", "Sam Student")
    make_user("eve@example.com", "Eve Other")
    transaction_id = _buy(client, stripe_emulator, seeded["Basic Package"])
    url = f"/account/purchases/{transaction_id}"
    assert client.get(url).status_code == 302  # anonymous: to the login page
    log_in(client, "eve@example.com")
    assert client.get(url).status_code == 404
    owner = app.test_client()
    log_in(owner, "sam@example.com")
    html = owner.get(url).get_data(as_text=True)
    assert "€75.00" in html and "Basic Package" in html and f"#{transaction_id}" in html


def test_pending_purchase_has_no_receipt(app, client, seeded, make_user):
    make_user("sam@example.com", "Sam Student")
    started = start_purchase(client, seeded["Basic Package"], email="sam@example.com")
    log_in(client, "sam@example.com")
    assert client.get(f"/account/purchases/{started['transaction_id']}").status_code == 404


def test_mail_is_not_sent_when_the_transaction_rolls_back(app, client, seeded, mailbox):
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        from storefront.mail import queue_mail

        with app.test_request_context():
            queue_mail("x@example.com", "reset", user=None, link="http://x")
            db.session.rollback()
            db.session.commit()
    assert mailbox.messages == []
