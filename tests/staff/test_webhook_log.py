"""Staff see the Stripe events we received (failed first, filterable by outcome) and the
purchases `flask stripe reconcile` last found disagreeing with Stripe."""

from __future__ import annotations

import re

from storefront.extensions import db
from storefront.models import Purchase
from tests.conftest import log_in
from tests.support import deliver, pay, start_purchase

URL = "/staff/webhooks"


def page_text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def rows(response) -> list[str]:
    """The event table's rows, as text, top to bottom."""
    html = response.get_data(as_text=True)
    body = html.split('id="events"', 1)[1].split("</table>", 1)[0]
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split())
            for row in re.findall(r"<tr class=\"event.*?</tr>", body, re.S)]


def staff_client(app, make_user):
    make_user("staff@example.com", "Staff Member", staff=True)
    client = app.test_client()
    log_in(client, "staff@example.com")
    return client


def test_events_are_listed_failed_first_and_filterable(app, client, seeded, make_user,
                                                       stripe_emulator):
    paid = start_purchase(client, seeded["Basic Package"])
    intent = pay(stripe_emulator, paid["payment_intent_id"])
    assert deliver(client, "payment_intent.succeeded", intent,
                   event_id="evt_ok").status_code == 200
    assert deliver(client, "customer.created", {"id": "cus_x", "object": "customer"},
                   event_id="evt_skip").status_code == 200
    wrong = start_purchase(client, seeded["Standard Package"])
    with app.app_context():
        db.session.get(Purchase, wrong["transaction_id"]).price_minor = 1
        db.session.commit()
    assert deliver(client, "payment_intent.succeeded",
                   pay(stripe_emulator, wrong["payment_intent_id"]),
                   event_id="evt_bad").status_code == 200

    staff = staff_client(app, make_user)
    page = staff.get(URL)
    assert page.status_code == 200
    listed = rows(page)
    assert len(listed) == 3
    assert "evt_bad" in listed[0] and "failed" in listed[0] and "mismatch" in listed[0]
    assert "payment_intent.succeeded" in listed[0]
    assert any("evt_ok" in row and "processed" in row and "credited" in row for row in listed)
    assert any("evt_skip" in row and "ignored" in row and "unhandled event type" in row
               for row in listed)
    text = page_text(page)
    assert "1 failed" in text and "1 processed" in text and "1 ignored" in text

    only_failed = rows(staff.get(f"{URL}?outcome=failed"))
    assert [("evt_bad" in row) for row in only_failed] == [True]
    assert [("evt_skip" in row) for row in rows(staff.get(f"{URL}?outcome=ignored"))] == [True]
    assert staff.get(f"{URL}?outcome=bogus").status_code == 400
    assert "sk_test" not in page.get_data(as_text=True)


def test_reconcile_findings_are_shown_until_the_next_run(app, client, runner, seeded,
                                                         make_user, stripe_emulator):
    started = start_purchase(client, seeded["Basic Package"])
    with app.app_context():
        db.session.get(Purchase, started["transaction_id"]).price_minor = 9900
        db.session.commit()
    pay(stripe_emulator, started["payment_intent_id"])
    stranger = stripe_emulator.client().v1.payment_intents.create(params={
        "amount": 100, "currency": "eur", "payment_method_types": ["card"],
        "metadata": {"purchase_id": "424242"}})

    staff = staff_client(app, make_user)
    assert "has not run yet" in page_text(staff.get(URL))

    assert runner.invoke(args=["stripe", "reconcile", "--since", "1h"]).exit_code == 1
    text = page_text(staff.get(URL))
    assert "Checked 2 payment(s)" in text
    assert f"purchase {started['transaction_id']}" in text
    assert "Stripe has 7500 eur, we have 9900 eur" in text
    assert f"{stranger.id}: names purchase 424242, which we do not have" in text
    html = staff.get(URL).get_data(as_text=True)
    with app.app_context():
        student_id = db.session.get(Purchase, started["transaction_id"]).student_id
    assert f"/staff/students/{student_id}" in html

    # Put right at our end: the next run finds nothing about that purchase.
    with app.app_context():
        db.session.get(Purchase, started["transaction_id"]).price_minor = 7500
        db.session.commit()
    stripe_emulator.client().v1.payment_intents.cancel(stranger.id)
    runner.invoke(args=["stripe", "reconcile", "--since", "1h"])
    text = page_text(staff.get(URL))
    assert "we have 9900 eur" not in text


def test_only_staff_see_the_webhook_log(app, client, make_user):
    assert client.get(URL).status_code in (302, 401)
    make_user("sam@example.com", "Sam Student")
    log_in(client, "sam@example.com")
    assert client.get(URL).status_code == 403
