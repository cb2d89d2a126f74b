"""A student's Stripe Customer is created once and reused."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from storefront.billing.customers import customer_for
from storefront.extensions import db
from storefront.models import User


def test_customer_for_creates_one_customer_and_reuses_it(app, make_user, stripe_emulator):
    user_id = make_user("ada@example.com", "Ada Lovelace")
    with app.app_context():
        first = customer_for(db.session.get(User, user_id))
        db.session.commit()
    with app.app_context():
        assert db.session.get(User, user_id).stripe_customer_id == first
        again = customer_for(db.session.get(User, user_id))
        db.session.commit()

    assert again == first
    stripe = stripe_emulator.client()
    customers = stripe.v1.customers.list(params={"limit": 100}).data
    assert [customer.id for customer in customers] == [first]
    assert (customers[0].email, customers[0].name) == ("ada@example.com", "Ada Lovelace")
    assert customers[0].metadata.to_dict() == {"user_id": str(user_id)}


def test_concurrent_first_subscriptions_of_one_student_make_one_customer(
        app, make_user, stripe_emulator):
    user_id = make_user("ada@example.com", "Ada Lovelace")
    workers = 10
    barrier = Barrier(workers)

    def subscribe(_):
        with app.app_context():
            barrier.wait()
            customer_id = customer_for(db.session.get(User, user_id))
            db.session.commit()
            return customer_id

    with ThreadPoolExecutor(max_workers=workers) as pool:
        answers = set(pool.map(subscribe, range(workers)))

    customers = stripe_emulator.client().v1.customers.list(params={"limit": 100}).data
    assert [customer.id for customer in customers] == list(answers)
    with app.app_context():
        assert db.session.get(User, user_id).stripe_customer_id == customers[0].id
