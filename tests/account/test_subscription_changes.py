"""A student changing their subscription from the dashboard: cancel at period end and undo,
switch plan from the next period, and a new card for a failed renewal. Stripe is the billing
stub (tests/stripe_stub.py): we assert on what was sent to it and on our rows and ledger."""

from __future__ import annotations

import re
import time

from storefront.extensions import db
from storefront.ledger import verify_ledger
from storefront.models import LedgerEntry, Subscription
from tests.account.conftest import CUSTOMER, price_of
from tests.account.test_subscription_panel import panel
from tests.conftest import csrf_token
from tests.stripe_stub import DAY, billing_subscription
from tests.webhooks.billing_objects import invoice_object

SUB_PATH = r"/v1/subscriptions/sub_1"


def post(s, path: str, **data):
    token = csrf_token(s.client, "/account")
    return s.client.post(path, data={"csrf_token": token, **data})


def row(s) -> Subscription:
    with s.app.app_context():
        sub = db.session.scalars(db.select(Subscription)).one()
        db.session.expunge(sub)
        return sub


def plan_of(s) -> str:
    with s.app.app_context():
        return db.session.scalars(db.select(Subscription)).one().plan.name


def credits(s) -> list[int]:
    """The student's credited minutes, one per paid month; the ledger checked sound."""
    with s.app.app_context():
        assert verify_ledger() == []
        return list(db.session.scalars(db.select(LedgerEntry.minutes).where(
            LedgerEntry.student_id == s.student_id, LedgerEntry.kind == "purchase_credit")
            .order_by(LedgerEntry.id)))


# --- Cancel at period end, and undo ---------------------------------------------------------

def test_cancel_at_period_end_then_undo(subscribed):
    s = subscribed()
    response = post(s, "/account/subscription/cancel")
    assert response.status_code == 302 and response.location.endswith("/account")
    [cancel] = s.stub.calls_to("POST", SUB_PATH)
    assert cancel.params == {"cancel_at_period_end": "true"}
    assert cancel.idempotency_key and cancel.idempotency_key.startswith("subscription-")
    assert row(s).cancel_at_period_end is True
    assert "Cancelled: access stops on" in panel(s.client)

    post(s, "/account/subscription/resume")
    [_, resume] = s.stub.calls_to("POST", SUB_PATH)
    assert resume.params == {"cancel_at_period_end": "false"}
    assert resume.idempotency_key not in (None, cancel.idempotency_key)
    assert row(s).cancel_at_period_end is False
    assert "Next payment" in panel(s.client)

    # Cancelling again is a new request with a key of its own.
    post(s, "/account/subscription/cancel")
    keys = [c.idempotency_key for c in s.stub.calls_to("POST", SUB_PATH)]
    assert len(set(keys)) == 3


def test_cancel_without_the_csrf_token_is_refused(subscribed):
    s = subscribed()
    assert s.client.post("/account/subscription/cancel").status_code == 400
    assert s.stub.calls_to("POST", SUB_PATH) == []
    assert row(s).cancel_at_period_end is False


def test_a_late_older_webhook_does_not_undo_the_cancellation(subscribed):
    """Stripe's answer is dated by its Date header; an event Stripe created before it, here
    an update from before the cancellation delivered late, is older and changes nothing."""
    s = subscribed()
    post(s, "/account/subscription/cancel")
    assert row(s).cancel_at_period_end is True
    before = billing_subscription("sub_1", price_id=price_of(s.plans["Student Subscription"]),
                                  start=s.start, **s.owner())
    s.event("customer.subscription.updated", before, created=int(time.time()) - 120)
    assert row(s).cancel_at_period_end is True
    # The undo, made elsewhere (Stripe's dashboard) later by Stripe's clock, is taken.
    s.event("customer.subscription.updated", before, created=int(time.time()) + 60)
    assert row(s).cancel_at_period_end is False


def test_stripe_answer_older_than_an_event_already_applied_changes_nothing(subscribed):
    """A newer event (here Stripe's clock is 5 minutes behind the event we hold) wins over
    the answer to our own call."""
    s = subscribed()
    s.event("customer.subscription.updated", billing_subscription(
        "sub_1", price_id=price_of(s.plans["Student Subscription"]), start=s.start,
        cancel_at_period_end=True, **s.owner()), created=int(time.time()) + 300)
    s.stub.subscriptions["sub_1"]["cancel_at_period_end"] = True
    post(s, "/account/subscription/resume")
    assert s.stub.calls_to("POST", SUB_PATH)  # Stripe was asked
    assert row(s).state_created >= int(time.time()) + 250  # the newer event's state stays


def test_nothing_to_cancel_without_a_subscription(app, client, make_user):
    from tests.conftest import log_in

    make_user()
    log_in(client, "sam@example.com")
    token = csrf_token(client, "/account")
    response = client.post("/account/subscription/cancel", data={"csrf_token": token},
                           follow_redirects=True)
    assert "You have no running subscription to change." in response.get_data(as_text=True)


# --- Switch plan from the next period -------------------------------------------------------

def test_switch_plan_from_the_next_period_keeps_this_periods_hours(subscribed):
    s = subscribed("Student Subscription")  # 15 hours a month
    family = s.plans["Family Subscription"]  # 50 hours a month
    html = s.client.get("/account").get_data(as_text=True)
    assert f'<option value="{family}">' in html
    post(s, "/account/subscription/plan", plan_id=str(family))
    [switch] = s.stub.calls_to("POST", SUB_PATH)
    assert switch.params == {"items[0][id]": "si_sub_1", "items[0][price]": price_of(family),
                             "proration_behavior": "none"}
    assert switch.idempotency_key
    assert plan_of(s) == "Family Subscription"
    assert credits(s) == [900]  # this period's hours stay
    text = panel(s.client)
    assert "Family Subscription" in text and "this period: Student Subscription" in text
    assert "Next payment €299.00" in text
    # The next paid month credits the new plan's hours.
    s.event("invoice.paid", invoice_object("in_2", "sub_1", period_start=s.start + 30 * DAY,
                                           amount=29900, **s.owner()))
    assert credits(s) == [900, 3000]


def test_switch_to_a_package_or_the_same_plan_is_refused(subscribed):
    s = subscribed()
    for plan in ("Basic Package", "Student Subscription"):
        response = post(s, "/account/subscription/plan", plan_id=str(s.plans[plan]))
        assert response.status_code == 302
    assert s.stub.calls_to("POST", SUB_PATH) == []
    assert plan_of(s) == "Student Subscription"
    page = s.client.get("/account").get_data(as_text=True)
    assert "That plan is not available to switch to." in page


def test_a_switch_made_elsewhere_is_seen_in_the_subscription_update(subscribed):
    s = subscribed()
    s.event("customer.subscription.updated", billing_subscription(
        "sub_1", price_id=price_of(s.plans["Monthly Unlimited"]), start=s.start, **s.owner()),
        created=int(time.time()) + 5)
    assert plan_of(s) == "Monthly Unlimited"
    # A Price we do not know leaves the plan as it is.
    s.event("customer.subscription.updated", billing_subscription(
        "sub_1", price_id="price_someone_elses", start=s.start, **s.owner()),
        created=int(time.time()) + 10)
    assert plan_of(s) == "Monthly Unlimited"


# --- Past due: a new card pays the open invoice ---------------------------------------------

def past_due(s) -> dict:
    """The second month's payment failed: Stripe's invoice is open and the row past due."""
    renewal = s.start + 30 * DAY - 3 * DAY
    s.stub.add_open_invoice("in_2", "sub_1", period_start=renewal)
    s.stub.subscriptions["sub_1"]["status"] = "past_due"
    s.event("invoice.payment_failed", invoice_object(
        "in_2", "sub_1", period_start=renewal, status="open", **s.owner()))
    assert row(s).status == "past_due"
    return s.stub.invoices["in_2"]


def setup_page(s) -> str:
    page = s.client.get("/account/subscription/card")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    secret = re.search(r'data-client-secret="([^"]+)"', html).group(1)
    return secret.split("_secret_")[0]


def test_update_card_saves_it_and_pays_the_open_invoice_once(subscribed):
    s = subscribed()
    past_due(s)
    assert 'href="/account/subscription/card"' in s.client.get("/account").get_data(as_text=True)
    seti = setup_page(s)
    [create] = s.stub.calls_to("POST", "/v1/setup_intents")
    assert (create.params["customer"], create.params["usage"],
            create.params["payment_method_types[0]"]) == (CUSTOMER, "off_session", "card")
    assert create.idempotency_key
    s.stub.complete_setup_intent(seti, "pm_new_card")  # what Stripe.js's confirmSetup did

    done = s.client.get(f"/account/subscription/card/done?setup_intent={seti}"
                        f"&setup_intent_client_secret={seti}_secret_stub"
                        "&redirect_status=succeeded")
    assert done.status_code == 302
    [default] = s.stub.calls_to("POST", SUB_PATH)
    assert default.params == {"default_payment_method": "pm_new_card"}
    [pay] = s.stub.calls_to("POST", "/v1/invoices/in_2/pay")
    assert pay.idempotency_key and default.idempotency_key
    assert s.stub.invoices["in_2"]["status"] == "paid"
    assert credits(s) == [900, 900]
    # Stripe's events for the payment credit nothing more.
    paid = {**s.stub.invoices["in_2"]}
    paid["parent"]["subscription_details"]["metadata"] = {
        k: str(v) for k, v in s.owner().items()}
    s.event("invoice.paid", paid)
    s.event("invoice.payment_succeeded", paid)
    assert credits(s) == [900, 900]
    assert row(s).status == "active"
    page = s.client.get("/account").get_data(as_text=True)
    assert "the payment went through" in page
    # Coming back to the same address again pays nothing twice.
    s.client.get(f"/account/subscription/card/done?setup_intent={seti}")
    assert len(s.stub.calls_to("POST", "/v1/invoices/in_2/pay")) == 1
    assert credits(s) == [900, 900]


def test_the_return_address_is_not_trusted(subscribed):
    """redirect_status=succeeded in the query string means nothing: Stripe's SetupIntent
    has not succeeded, so no card is set and no payment asked for."""
    s = subscribed()
    past_due(s)
    seti = setup_page(s)
    page = s.client.get(f"/account/subscription/card/done?setup_intent={seti}"
                        "&redirect_status=succeeded", follow_redirects=True)
    assert "The card was not saved" in page.get_data(as_text=True)
    assert s.stub.calls_to("POST", SUB_PATH) == []
    assert s.stub.calls_to("POST", r"/v1/invoices/.*/pay") == []
    assert row(s).status == "past_due"


def test_someone_elses_setup_intent_is_refused(subscribed):
    s = subscribed()
    past_due(s)
    seti = setup_page(s)
    s.stub.complete_setup_intent(seti, "pm_new_card")
    s.stub.setup_intents[seti]["customer"] = "cus_someone_else"
    page = s.client.get(f"/account/subscription/card/done?setup_intent={seti}",
                        follow_redirects=True)
    assert "That card update is unknown." in page.get_data(as_text=True)
    assert s.stub.calls_to("POST", SUB_PATH) == []


def test_a_declined_retry_keeps_the_card_and_says_so(subscribed):
    s = subscribed()
    past_due(s)
    seti = setup_page(s)
    s.stub.complete_setup_intent(seti, "pm_card_insufficient")
    s.stub.decline_invoice_payment = "card_declined"
    page = s.client.get(f"/account/subscription/card/done?setup_intent={seti}",
                        follow_redirects=True).get_data(as_text=True)
    assert "the payment was declined: Your card was declined." in page
    assert s.stub.subscriptions["sub_1"]["default_payment_method"] == "pm_card_insufficient"
    assert row(s).status == "past_due" and credits(s) == [900]
