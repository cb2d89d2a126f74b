"""The plans page."""

from __future__ import annotations

from flask import Blueprint, render_template

from storefront.catalog.services import active_plans

bp = Blueprint("catalog", __name__)


@bp.get("/")
def plans():
    """Packages and subscriptions, each as a card."""
    plans = active_plans()
    packages = [plan for plan in plans if plan.is_package]
    subscriptions = [plan for plan in plans if not plan.is_package]
    return render_template(
        "catalog/plans.html", packages=packages, subscriptions=subscriptions
    )
