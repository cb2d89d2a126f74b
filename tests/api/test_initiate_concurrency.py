"""A double-click starts one purchase: concurrent starts by one browser share one payment."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import requests

from storefront.extensions import db
from storefront.models import Purchase
from tests.support import INITIATE_URL

CLICKS = 10


def _purchases(app) -> list[tuple[int, str, str]]:
    with app.app_context():
        return [(p.id, p.status, p.payment_intent_id)
                for p in db.session.scalars(db.select(Purchase))]


def _intents_at_stripe(stripe_emulator) -> list[str]:
    listed = stripe_emulator.client().v1.payment_intents.list(params={"limit": 100})
    return [intent.id for intent in listed.data]


def _all_at_once(action):
    barrier = Barrier(CLICKS)

    def click(_):
        barrier.wait()
        return action()

    with ThreadPoolExecutor(max_workers=CLICKS) as pool:
        return list(pool.map(click, range(CLICKS)))


def test_ten_concurrent_api_starts_by_one_browser_make_one_payment(
    app, seeded, stripe_emulator, live_server
):
    plan_id = seeded["Basic Package"]
    browser = requests.Session()
    assert browser.get(f"{live_server.url}/checkout/{plan_id}", timeout=60).status_code == 200
    payload = {"plan_id": plan_id,
               "student_info": {"name": "Ana Silva", "email": "ana@example.com"}}

    responses = _all_at_once(
        lambda: browser.post(live_server.url + INITIATE_URL, json=payload, timeout=120))

    assert [r.status_code for r in responses] == [201] * CLICKS
    answers = {(r.json()["transaction_id"], r.json()["payment_intent_id"],
                r.json()["client_secret"]) for r in responses}
    assert len(answers) == 1
    [(transaction_id, intent_id, _)] = answers
    assert _purchases(app) == [(transaction_id, "pending", intent_id)]
    assert _intents_at_stripe(stripe_emulator) == [intent_id]


def test_ten_concurrent_checkout_submits_lead_to_one_payment_page(
    app, seeded, stripe_emulator, live_server
):
    plan_id = seeded["Basic Package"]
    browser = requests.Session()
    page = browser.get(f"{live_server.url}/checkout/{plan_id}", timeout=60).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    form = {"csrf_token": token, "name": "Ana Silva", "email": "ana@example.com"}

    responses = _all_at_once(lambda: browser.post(
        f"{live_server.url}/checkout/{plan_id}", data=form, allow_redirects=False,
        timeout=120))

    assert [r.status_code for r in responses] == [302] * CLICKS
    assert len({r.headers["Location"] for r in responses}) == 1
    [(transaction_id, status, intent_id)] = _purchases(app)
    assert responses[0].headers["Location"].endswith(f"/checkout/purchase/{transaction_id}/pay")
    assert _intents_at_stripe(stripe_emulator) == [intent_id]
