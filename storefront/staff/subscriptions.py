"""Staff pages for subscriptions: the list by status, and cancelling one at Stripe."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from storefront.billing.cancellation import cancel_subscription, subscription_by_id
from storefront.errors import NotFound, StorefrontError
from storefront.extensions import db
from storefront.models.subscription import SUBSCRIPTION_STATUSES
from storefront.staff.access import only_staff
from storefront.staff.forms import CancelSubscriptionForm
from storefront.staff.queries import subscriptions_of_status
from storefront.validation import FieldError, clean_int

bp = Blueprint("staff_subscriptions", __name__, url_prefix="/staff")
bp.before_request(only_staff)
PER_PAGE = 50


@bp.get("/subscriptions")
def subscriptions():
    """Subscriptions, newest first, filtered by status, with a count per status."""
    status = request.args.get("status") or None
    if status is not None and status not in SUBSCRIPTION_STATUSES:
        abort(404)
    try:
        page = clean_int(request.args.get("page", "1"), minimum=1, maximum=10**6)
    except FieldError:
        page = 1
    query, counts = subscriptions_of_status(status)
    listing = db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)
    return render_template("staff/subscriptions.html", listing=listing, counts=counts,
                           status=status, total=sum(counts.values()))


@bp.post("/subscriptions/<id:subscription_id>/cancel")
def cancel(subscription_id: int):
    """Cancel at Stripe, now or at period end, once confirmed; back to the student's page."""
    try:
        subscription = subscription_by_id(subscription_id)
    except NotFound:
        abort(404)
    student_id, form = subscription.student_id, CancelSubscriptionForm()
    if not form.validate():
        messages = next(iter(form.errors.values()))
        flash(messages[0], "error")
        return redirect(url_for("staff.student", student_id=student_id))
    at_period_end = form.when.data == "period_end"
    try:
        cancel_subscription(subscription, at_period_end=at_period_end, staff=current_user,
                            request_key=form.request_key.data)
        db.session.commit()
    except StorefrontError as error:
        db.session.rollback()
        flash(error.first_message, "error")
    else:
        flash("The subscription ends at the end of its period." if at_period_end
              else "The subscription is cancelled.", "success")
    return redirect(url_for("staff.student", student_id=student_id))
