"""The student's own subscription: cancel at period end, undo it, switch plan, update the card.

POST forms from the dashboard (CSRF-protected) and the card page with the Payment Element in
setup mode; each view calls one service, commits, and goes back to the dashboard.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from storefront.billing import subscription_changes as changes
from storefront.billing.subscription_changes import CardUpdate
from storefront.errors import StorefrontError
from storefront.extensions import db
from storefront.web import absolute_url

bp = Blueprint("subscription", __name__, url_prefix="/account/subscription")


def _change(action: Callable[[], object], done: str):
    """Run one change, commit, tell the student, back to the dashboard."""
    try:
        action()
    except StorefrontError as refusal:
        db.session.rollback()
        flash(refusal.message, "error")
    else:
        db.session.commit()
        flash(done, "success")
    return redirect(url_for("account.dashboard"))


@bp.post("/cancel")
@login_required
def cancel():
    return _change(lambda: changes.cancel_at_period_end(current_user),
                   "Your subscription stops at the end of this period. You can undo this "
                   "until then.")


@bp.post("/resume")
@login_required
def resume():
    return _change(lambda: changes.resume(current_user),
                   "Your subscription continues; it renews as before.")


@bp.post("/plan")
@login_required
def switch_plan():
    plan_id = request.form.get("plan_id", "")
    if not plan_id.isascii() or not plan_id.isdigit() or len(plan_id) > 9:
        flash("Choose a plan to switch to.", "error")
        return redirect(url_for("account.dashboard"))
    return _change(lambda: changes.switch_plan(current_user, int(plan_id)),
                   "Your plan changes from the next period; this period's hours stay.")


@bp.get("/card")
@login_required
def card():
    try:
        intent = changes.start_card_update(current_user)
    except StorefrontError as refusal:
        db.session.rollback()
        flash(refusal.message, "error")
        return redirect(url_for("account.dashboard"))
    db.session.commit()  # the Stripe customer id, if this created it
    return render_template(
        "account/card.html", client_secret=intent.client_secret,
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
        return_url=absolute_url("subscription.card_done"))


_CARD_MESSAGES = {
    CardUpdate.SAVED: ("Your new card pays your subscription from now on.", "success"),
    CardUpdate.PAID: ("Your new card is saved and the payment went through. This period's "
                      "hours are on their way.", "success"),
    CardUpdate.PENDING: ("Your card is still being checked. Look back here in a minute.",
                         "info"),
}


@bp.get("/card/done")
@login_required
def card_done():
    """Where the Payment Element returns: the SetupIntent is read from Stripe."""
    setup_intent_id = request.args.get("setup_intent", "")
    if not setup_intent_id.startswith("seti_") or len(setup_intent_id) > 255:
        flash("The card was not saved. Please try again.", "error")
        return redirect(url_for("account.dashboard"))

    def finish():
        result = changes.finish_card_update(current_user, setup_intent_id)
        if result.outcome is CardUpdate.PAYMENT_FAILED:
            flash(f"Your new card is saved, but the payment was declined: {result.message}",
                  "error")
        else:
            flash(*_CARD_MESSAGES[result.outcome])

    try:
        finish()
    except StorefrontError as refusal:
        db.session.rollback()
        flash(refusal.message, "error")
    else:
        db.session.commit()
    return redirect(url_for("account.dashboard"))
