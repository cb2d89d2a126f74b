"""Whose purchase is it: only the browser that started a pending purchase gets it back, and
a paid purchase is shown to its owner only; nor does a page tell whether an email has an
account."""

from __future__ import annotations

import re
from datetime import timedelta

from storefront.extensions import db
from storefront.models import Purchase
from tests.conftest import csrf_token, log_in
from tests.support import INITIATE_URL, WEBHOOK_PATH, pay, signed_event, start_purchase


def _start_logged_in(client, plan_id, email="carol@example.com"):
    response = client.post(INITIATE_URL, json={
        "plan_id": plan_id, "student_info": {"name": "Carol Owner", "email": email}},
        headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def _settle_by_webhook(client, stripe_emulator, intent_id) -> dict:
    intent = pay(stripe_emulator, intent_id)
    payload, headers = signed_event("payment_intent.succeeded", intent)
    assert client.post(WEBHOOK_PATH, data=payload, headers=headers).status_code == 200
    return intent


def _complete_url(intent) -> str:
    return (f"/checkout/complete?payment_intent={intent['id']}"
            f"&payment_intent_client_secret={intent['client_secret']}")


def test_owner_never_gets_a_pending_purchase_a_stranger_started(app, client, seeded,
                                                                make_user):
    make_user("carol@example.com", "Carol Owner")
    plan_id = seeded["Basic Package"]
    stranger = app.test_client()
    theirs = start_purchase(stranger, plan_id, email="carol@example.com", name="Carol Owner")

    log_in(client, "carol@example.com")
    mine = _start_logged_in(client, plan_id)
    assert mine["transaction_id"] != theirs["transaction_id"]
    assert mine["client_secret"] != theirs["client_secret"]
    # Nor through the checkout page, nor can she open the stranger's payment page.
    submitted = client.post(f"/checkout/{plan_id}", data={"csrf_token": csrf_token(client)})
    assert submitted.headers["Location"] == f"/checkout/purchase/{mine['transaction_id']}/pay"
    assert client.get(f"/checkout/purchase/{theirs['transaction_id']}/pay").status_code == 404
    # The owner's own repeat still finds her own pending purchase.
    assert _start_logged_in(client, plan_id)["transaction_id"] == mine["transaction_id"]


def test_paid_purchase_is_shown_to_its_owner_only(app, client, seeded, make_user,
                                                  stripe_emulator):
    make_user("carol@example.com", "Carol Owner")
    plan_id = seeded["Basic Package"]
    stranger = app.test_client()
    theirs = start_purchase(stranger, plan_id, email="carol@example.com", name="Carol Owner")
    transaction_id = theirs["transaction_id"]
    # While unpaid, the browser that started it can come back to it.
    assert stranger.get(f"/checkout/purchase/{transaction_id}/pay").status_code == 200

    intent = _settle_by_webhook(client, stripe_emulator, theirs["payment_intent_id"])
    for path in (f"/checkout/purchase/{transaction_id}",
                 f"/checkout/purchase/{transaction_id}/pay"):
        page = stranger.get(path)
        assert page.status_code == 404, path
        assert "carol@example.com" not in page.get_data(as_text=True)

    log_in(client, "carol@example.com")
    owner_page = client.get(f"/checkout/purchase/{transaction_id}")
    assert owner_page.status_code == 200 and "Payment received" in owner_page.get_data(
        as_text=True)
    # The complete page's return from paying, too, is the owner's once that moment is past.
    with app.app_context():
        purchase = db.session.get(Purchase, transaction_id)
        purchase.paid_at = purchase.paid_at - timedelta(hours=2)
        db.session.commit()
    assert stranger.get(_complete_url(intent)).status_code == 404
    assert client.get(_complete_url(intent)).status_code == 200


def test_the_browser_that_pays_sees_the_outcome_when_it_returns(app, client, seeded,
                                                               stripe_emulator):
    started = start_purchase(client, seeded["Basic Package"])
    # The webhook may settle it before the browser is back from paying.
    intent = _settle_by_webhook(client, stripe_emulator, started["payment_intent_id"])
    page = client.get(_complete_url(intent))
    assert page.status_code == 200 and "Payment received" in page.get_data(as_text=True)
    # Another browser with the link sees nothing.
    assert app.test_client().get(_complete_url(intent)).status_code == 404


def _page_text(html: str, address: str) -> str:
    """The page's main text, with the address and the purchase number blanked out."""
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    text = " ".join(re.sub(r"<[^>]+>", " ", "<main" + main).split())
    return re.sub(r"#\d+", "#N", text.replace(address, "ADDRESS"))


def test_complete_page_does_not_tell_whether_an_email_has_an_account(
    app, seeded, make_user, stripe_emulator
):
    make_user("sam@example.com", "Sam Student")
    pages = {}
    for address in ("sam@example.com", "nobody@example.com"):
        browser = app.test_client()
        started = start_purchase(browser, seeded["Basic Package"], email=address)
        intent = pay(stripe_emulator, started["payment_intent_id"])
        html = browser.get(_complete_url(intent)).get_data(as_text=True)
        assert "Payment received" in html and address in html
        pages[address] = _page_text(html, address)
    assert pages["sam@example.com"] == pages["nobody@example.com"]
    assert "We have emailed ADDRESS" in pages["sam@example.com"]
