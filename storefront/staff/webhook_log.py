"""Staff page: the Stripe events we received, and purchases that disagree with Stripe."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from storefront.staff.access import only_staff
from storefront.webhooks.log import (
    OUTCOMES,
    latest_reconcile_run,
    outcome_counts,
    received_events,
)

bp = Blueprint("staff_webhooks", __name__, url_prefix="/staff")
bp.before_request(only_staff)


@bp.get("/webhooks")
def webhook_log():
    """Received events (failed first; ?outcome= filters) and reconcile's last findings."""
    outcome = request.args.get("outcome") or None
    if outcome is not None and outcome not in OUTCOMES:
        abort(400)
    return render_template(
        "staff/webhooks.html", events=received_events(outcome), outcome=outcome,
        counts=outcome_counts(), outcomes=OUTCOMES, run=latest_reconcile_run())
