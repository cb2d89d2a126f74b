"""Which purchases this browser may pay for or look at.

Each browser gets a random checkout key in its session; a purchase stores a hash of the key
of the browser that started it. That browser may come back to the purchase while it is
unpaid; once paid, the purchase is its owner's (logged in) alone, except that the browser
that started it sees the outcome when it returns from paying (it alone holds the
PaymentIntent's client secret).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import session
from flask_login import current_user

from storefront.models import Purchase
from storefront.models.base import utcnow

SESSION_KEY = "checkout_key"
# How long after a payment the paying browser's return to the complete page still shows it.
RETURN_FROM_PAYMENT = timedelta(hours=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def checkout_starter() -> str:
    """This browser's checkout identity as stored on the purchases it starts (made on first use)."""
    key = session.get(SESSION_KEY)
    if not key:
        key = session[SESSION_KEY] = secrets.token_urlsafe(32)
    return _digest(key)


def started_here(purchase: Purchase) -> bool:
    """This browser started the purchase."""
    key = session.get(SESSION_KEY)
    return bool(key and purchase.started_by
                and hmac.compare_digest(purchase.started_by, _digest(key)))


def _owner_asking(purchase: Purchase) -> bool:
    return bool(current_user.is_authenticated and current_user.id == purchase.student_id)


def may_view(purchase: Purchase, *, returning_from_payment: bool = False) -> bool:
    """Unpaid: the browser that started it. Paid: its logged-in owner, or that browser just
    back from paying (`returning_from_payment`, the complete page with the client secret)."""
    if not purchase.is_paid:
        return started_here(purchase)
    if _owner_asking(purchase):
        return True
    return (returning_from_payment and started_here(purchase)
            and purchase.paid_at is not None
            and utcnow() - purchase.paid_at <= RETURN_FROM_PAYMENT)
