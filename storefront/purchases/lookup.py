"""Finding the purchase a Stripe PaymentIntent belongs to."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from storefront.extensions import db
from storefront.models import Purchase


def purchase_for_intent(payment_intent_id: str | None, *, lock: bool = False) -> Purchase | None:
    """The purchase paid through this PaymentIntent, if any; with `lock`, locked for this
    transaction and read afresh (what a writer needs before moving it)."""
    if not payment_intent_id:
        return None
    query = select(Purchase).where(Purchase.payment_intent_id == payment_intent_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalars(query).one_or_none()


# Built once: executed with a parameter, its cache key is computed once per process.
_PACKAGE_PURCHASE_LOCKED = (
    select(Purchase).options(joinedload(Purchase.student, innerjoin=True))
    .where(Purchase.payment_intent_id == bindparam("payment_intent_id"),
           Purchase.subscription_id.is_(None))
    .with_for_update(of=Purchase).execution_options(populate_existing=True))


def package_purchase_for_intent(payment_intent_id: str) -> Purchase | None:
    """The package purchase (not a subscription's month) paid through this PaymentIntent,
    locked, read afresh and with its student, in one statement; None for any other."""
    return db.session.scalars(_PACKAGE_PURCHASE_LOCKED,
                              {"payment_intent_id": payment_intent_id}).one_or_none()
