"""A logged-in student with a monthly subscription, as Stripe's events left it, on an app whose
Stripe is the local billing stub (tests/stripe_stub.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from storefront.extensions import db
from storefront.models import PricingPlan, User
from tests.conftest import log_in
from tests.stripe_stub import DAY, StripeBillingStub, billing_subscription
from tests.support import deliver
from tests.webhooks.billing_objects import invoice_object

CUSTOMER = "cus_test"


@pytest.fixture
def billing_stub():
    stub = StripeBillingStub()
    yield stub
    stub.stop()


@pytest.fixture
def stub_app(make_app, billing_stub):
    """The storefront talking to the billing stub instead of the emulator."""
    return make_app(STRIPE_API_BASE=billing_stub.base_url)


def price_of(plan_id: int) -> str:
    """The Stripe Price `flask stripe sync-plans` gave the plan (in these tests)."""
    return f"price_plan_{plan_id}"


@dataclass
class Subscribed:
    """A student subscribed to a plan since `start`, the first month paid and credited."""

    app: object
    client: object
    stub: StripeBillingStub
    student_id: int
    plans: dict[str, int]
    sub_id: str
    start: int

    def owner(self, plan: str = "Student Subscription") -> dict:
        return {"student_id": self.student_id, "plan_id": self.plans[plan]}

    def event(self, event_type: str, obj: dict, **kwargs):
        response = deliver(self.client, event_type, obj, **kwargs)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response


@pytest.fixture
def subscribed(stub_app, billing_stub, make_user):
    """subscribed(plan="Student Subscription") -> Subscribed, logged in."""
    from storefront.catalog.services import seed_default_plans

    def start(plan: str = "Student Subscription", email: str = "sam@example.com",
              sub_id: str = "sub_1") -> Subscribed:
        with stub_app.app_context():
            seed_default_plans()
            for row in db.session.scalars(db.select(PricingPlan)):
                if row.plan_type == "subscription":
                    row.stripe_price_id = price_of(row.id)
            db.session.commit()
            plans = {p.name: p.id for p in db.session.scalars(db.select(PricingPlan))}
        student_id = make_user(email)
        with stub_app.app_context():
            db.session.get(User, student_id).stripe_customer_id = CUSTOMER
            db.session.commit()
        client = stub_app.test_client()
        now = int(time.time())
        begun = now - 2 * DAY
        state = Subscribed(stub_app, client, billing_stub, student_id, plans, sub_id, begun)
        obj = billing_stub.add_subscription(billing_subscription(
            sub_id, price_id=price_of(plans[plan]), start=begun, latest_invoice="in_first",
            **state.owner(plan)))
        state.event("customer.subscription.created", obj, created=begun)
        state.event("invoice.paid", invoice_object("in_first", sub_id, period_start=begun,
                                                   amount=_price(stub_app, plans[plan]),
                                                   **state.owner(plan)), created=begun + 5)
        log_in(client, email)
        return state

    return start


def _price(app, plan_id: int) -> int:
    with app.app_context():
        return db.session.get(PricingPlan, plan_id).price_minor
