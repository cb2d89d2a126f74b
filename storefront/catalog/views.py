"""The plans page."""

from __future__ import annotations

from flask import Blueprint, make_response, render_template

from storefront.catalog.caching import cached_answer, catalog_etag, is_personal, personal_answer
from storefront.catalog.services import PlanSummary, plan_listing

bp = Blueprint("catalog", __name__)


def _render(plans: tuple[PlanSummary, ...]) -> str:
    return render_template(
        "catalog/plans.html",
        packages=[plan for plan in plans if plan.is_package],
        subscriptions=[plan for plan in plans if not plan.is_package],
    )


@bp.get("/")
def plans():
    """Packages and subscriptions, each as a card; the same page for every anonymous
    visitor, answered 304 when their copy is current."""
    listing = plan_listing()
    if is_personal():
        return personal_answer(make_response(_render(listing.plans)))
    return cached_answer(catalog_etag("page", listing.version), "text/html",
                         lambda: _render(listing.plans))
