"""A student's Stripe Customer is created once and reused."""

from __future__ import annotations

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
