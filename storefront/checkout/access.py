"""Which purchases this browser may pay for or look at."""

from __future__ import annotations

from flask import session
from flask_login import current_user

from storefront.models import Purchase

_SESSION_KEY = "checkout_purchases"
_REMEMBERED = 10


def remember_purchase(purchase: Purchase) -> None:
    """Let this browser come back to the purchase it just started."""
    ids = [i for i in session.get(_SESSION_KEY, []) if i != purchase.id]
    session[_SESSION_KEY] = [*ids, purchase.id][-_REMEMBERED:]


def may_view(purchase: Purchase) -> bool:
    """The browser started this purchase, or its logged-in owner is asking."""
    if purchase.id in session.get(_SESSION_KEY, []):
        return True
    return bool(current_user.is_authenticated and current_user.id == purchase.student_id)
