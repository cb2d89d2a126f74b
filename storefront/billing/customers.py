"""A student's Stripe Customer: created once, its id kept on the user."""

from __future__ import annotations

from sqlalchemy import select

from storefront.extensions import db
from storefront.models import User
from storefront.payments import gateway


def customer_for(student: User) -> str:
    """The student's Stripe Customer id, creating the Customer the first time (flushes).

    The user row stays locked until the caller's transaction ends, so two requests for one
    student create one Customer; Stripe's idempotency key covers a retry after a lost answer.
    """
    locked = db.session.scalars(
        select(User).where(User.id == student.id).with_for_update()
        .execution_options(populate_existing=True)).one()
    if locked.stripe_customer_id:
        return locked.stripe_customer_id
    locked.stripe_customer_id = gateway.ensure_customer(
        email=locked.email, name=locked.name, metadata={"user_id": str(locked.id)},
        idempotency_key=f"customer-{locked.id}")
    db.session.flush()
    return locked.stripe_customer_id
