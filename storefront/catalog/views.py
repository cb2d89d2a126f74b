"""The plans page, and the form that picks the currency prices are shown in."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, redirect, render_template, request, session

from storefront.account.redirects import safe_next
from storefront.catalog.caching import cached_answer, catalog_etag, is_personal, personal_answer
from storefront.catalog.currency import (
    SESSION_KEY,
    chosen_currency,
    same_origin_post,
    visitor_currency,
)
from storefront.catalog.services import PlanSummary, plan_listing
from storefront.extensions import csrf
from storefront.money import CURRENCIES

bp = Blueprint("catalog", __name__)


def _render(plans: tuple[PlanSummary, ...], currency: str, offered: tuple[str, ...]) -> str:
    shown = [plan.shown_in(currency) for plan in plans]
    return render_template(
        "catalog/plans.html",
        packages=[plan for plan in shown if plan.is_package],
        subscriptions=[plan for plan in shown if not plan.is_package],
        currency=currency, offered=offered,
        some_in_euros=any(plan.currency != currency for plan in shown),
    )


@bp.get("/")
def plans():
    """Packages and subscriptions, each as a card, priced in the visitor's currency; the
    same page for every anonymous visitor of that currency, answered 304 when their copy is
    current."""
    listing = plan_listing()
    offered = listing.currencies
    currency = visitor_currency(offered)
    if is_personal():
        return personal_answer(make_response(_render(listing.plans, currency, offered)))
    response = cached_answer(catalog_etag("page", listing.version, currency), "text/html",
                             lambda: _render(listing.plans, currency, offered))
    if chosen_currency() is None:  # derived from the browser's languages
        response.vary.add("Accept-Language")
    return response


@bp.post("/currency")
@csrf.exempt  # the plans page carries no token (it stays session-less); the origin is checked
def choose_currency():
    """Remember the currency the visitor picked, then back to the page they were on."""
    if not same_origin_post():
        abort(403)
    code = request.form.get("currency", "").lower()
    if code not in CURRENCIES:
        abort(400)
    session[SESSION_KEY] = code
    return redirect(safe_next(request.form.get("next")) or "/", 303)
