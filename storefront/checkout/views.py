"""Checkout pages: details → Payment Element → complete."""

from __future__ import annotations

import hmac

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from storefront.catalog.currency import visitor_currency
from storefront.catalog.prices import sellable_currencies
from storefront.catalog.services import plan_summary
from storefront.checkout.access import checkout_starter, may_view
from storefront.checkout.cooldown import cooldown_for, refuse_during_decline_cooldown
from storefront.checkout.forms import GuestDetailsForm
from storefront.clients import client_address
from storefront.errors import StorefrontError
from storefront.extensions import db
from storefront.ledger.pending import pending_minutes_of
from storefront.models import PricingPlan, Purchase, PurchaseStatus
from storefront.payments import gateway
from storefront.purchases import fulfil_purchase, initiate_purchase, purchase_for_intent
from storefront.purchases.declines import record_decline
from storefront.purchases.initiate import purchasable_plan
from storefront.ratelimits import initiate_limits
from storefront.web import absolute_url

bp = Blueprint("checkout", __name__, url_prefix="/checkout")


def _unavailable_reason(plan_id: int, currency: str) -> str | None:
    try:
        purchasable_plan(plan_id, currency)
    except StorefrontError as refusal:
        return refusal.message
    return None


@bp.route("/<id:plan_id>", methods=["GET", "POST"])
@initiate_limits
@refuse_during_decline_cooldown
def start(plan_id: int):
    """Plan summary in the visitor's currency (when the plan can be bought in it, else in
    euros) and, for a guest, name and email; POST starts the purchase in that currency."""
    plan = plan_summary(plan_id)
    if plan is None:
        abort(404)
    offered = sellable_currencies(db.session.get(PricingPlan, plan_id))
    currency = visitor_currency(offered)
    plan = plan.shown_in(currency)
    form = GuestDetailsForm()
    error, status = None, 200
    started_by = checkout_starter()  # made on the first visit, so a double-click shares it
    if request.method == "POST" and (current_user.is_authenticated or form.validate()):
        if current_user.is_authenticated:
            name, email = current_user.name, current_user.email
        else:
            name, email = form.name.data, form.email.data
        try:
            started = initiate_purchase(
                plan_id=plan_id, name=name, email=email, acting_user=current_user,
                started_by=started_by, client_ip=client_address(), currency=currency,
            )
            db.session.commit()
        except StorefrontError as failure:
            db.session.rollback()
            error, status = failure.message, failure.status  # e.g. 503: Stripe unreachable
        else:
            return redirect(url_for("checkout.pay", purchase_id=started.purchase.id))
    if form.errors:
        status = 400
    return render_template(
        "checkout/start.html", plan=plan, form=form, error=error,
        unavailable=_unavailable_reason(plan_id, currency), offered=offered,
    ), status


def _purchase_for_browser(purchase_id: int) -> Purchase:
    """The purchase, if this browser may see it (see checkout/access.py); else 404."""
    purchase = db.session.get(Purchase, purchase_id)
    if purchase is None or not may_view(purchase):
        abort(404)
    return purchase


@bp.get("/purchase/<id:purchase_id>/pay")
def pay(purchase_id: int):
    """The Payment Element for one purchase this browser started."""
    purchase = _purchase_for_browser(purchase_id)
    if purchase.state is PurchaseStatus.COMPLETED:
        return redirect(url_for("checkout.purchase_status", purchase_id=purchase.id))
    intent = gateway.retrieve_payment_intent(purchase.payment_intent_id)
    if intent.status in ("succeeded", "processing"):
        # Paid already (the webhook may be late): settle it here and show the outcome, as
        # Stripe.js's return from paying would.
        fulfil_purchase(intent)
        db.session.commit()
        return redirect(url_for("checkout.complete", payment_intent=intent.id,
                                payment_intent_client_secret=intent.client_secret))
    if (refused := cooldown_for(purchase)) is not None:
        return refused
    payable = intent.status in ("requires_payment_method", "requires_confirmation",
                                "requires_action")
    return render_template(
        "checkout/pay.html",
        purchase=purchase,
        intent=intent,
        payable=payable,
        return_url=absolute_url("checkout.complete"),
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
    )


@bp.get("/purchase/<id:purchase_id>")
def purchase_status(purchase_id: int):
    """Where a finished purchase's pay link leads: its outcome, from our records."""
    purchase = _purchase_for_browser(purchase_id)
    return render_template("checkout/complete.html", purchase=purchase,
                           payment_status=None, can_retry=False,
                           pending_minutes=pending_minutes_of(purchase))


@bp.get("/complete")
def complete():
    """The outcome, read from Stripe (never from the query string), and settled here too."""
    intent_id = request.args.get("payment_intent", "")
    client_secret = request.args.get("payment_intent_client_secret", "")
    if not intent_id.startswith("pi_") or not client_secret:
        abort(400)
    purchase = purchase_for_intent(intent_id)
    if purchase is None:
        abort(404)
    intent = gateway.retrieve_payment_intent(intent_id)
    if not intent.client_secret or not hmac.compare_digest(intent.client_secret, client_secret):
        abort(403)
    _, purchase = fulfil_purchase(intent)
    record_decline(intent, reported_by="complete page")  # may cancel the payment
    db.session.commit()
    if not may_view(purchase, returning_from_payment=True):
        abort(404)
    status = "canceled" if purchase.state is PurchaseStatus.CANCELLED else intent.status
    return render_template(
        "checkout/complete.html",
        purchase=purchase,
        payment_status=status,
        can_retry=status == "requires_payment_method",
        pending_minutes=pending_minutes_of(purchase),
    )
