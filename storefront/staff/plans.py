"""Staff pages for plans: list, create, edit (price, hours, order, featured, on sale)."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, url_for

from storefront.catalog.prices import price_rows
from storefront.catalog.services import PlanChanges, all_plans, save_plan
from storefront.errors import ValidationError
from storefront.extensions import db
from storefront.formatting import amount_text, hours_text
from storefront.models import PricingPlan
from storefront.money import EXTRA_CURRENCIES, parse_price
from storefront.rounding import hours_to_minutes
from storefront.staff.access import only_staff
from storefront.staff.forms import PlanForm, extra_price_field, to_minor

bp = Blueprint("staff_plans", __name__, url_prefix="/staff")
bp.before_request(only_staff)


@bp.get("/plans")
def plans():
    return render_template("staff/plans.html", plans=all_plans())


def _extra_prices(form: PlanForm) -> dict[str, int | None]:
    prices: dict[str, int | None] = {}
    for code in EXTRA_CURRENCIES:
        text = (extra_price_field(form, code).data or "").strip()
        prices[code] = parse_price(text, code) if text else None
    return prices


def _changes(form: PlanForm) -> PlanChanges:
    return PlanChanges(
        name=form.name.data or "", description=form.description.data or "",
        plan_type=form.plan_type.data,
        minutes_included=hours_to_minutes(form.hours_included.data),
        price_minor=to_minor(form.price.data), validity_days=form.validity_days.data,
        display_order=form.display_order.data, is_featured=form.is_featured.data,
        is_active=form.is_active.data, rollover_unused=form.rollover_unused.data,
        extra_prices=_extra_prices(form),
    )


def _edit(plan: PricingPlan | None):
    form = PlanForm(obj=plan) if plan else PlanForm()
    if plan is not None and not form.is_submitted():
        form.hours_included.data = Decimal(hours_text(plan.minutes_included))
        form.price.data = Decimal(amount_text(plan.price_minor))
        rows = price_rows(plan)
        for code in EXTRA_CURRENCIES:
            if code in rows:
                extra_price_field(form, code).data = amount_text(rows[code].amount_minor, code)
    error = None
    if form.validate_on_submit():
        try:
            saved = save_plan(plan, _changes(form))
            db.session.commit()
        except ValidationError as refusal:
            db.session.rollback()
            error = refusal.first_message
        else:
            flash(f"Plan “{saved.name}” saved.", "success")
            return redirect(url_for("staff_plans.plans"))
    elif form.errors:
        field, messages = next(iter(form.errors.items()))
        error = f"{getattr(form, field).label.text}: {messages[0]}"
    extra = [extra_price_field(form, code) for code in EXTRA_CURRENCIES]
    return render_template("staff/plan_form.html", form=form, plan=plan, error=error,
                           extra_prices=extra), 400 if error else 200


@bp.route("/plans/new", methods=["GET", "POST"])
def new_plan():
    return _edit(None)


@bp.route("/plans/<id:plan_id>", methods=["GET", "POST"])
def edit_plan(plan_id: int):
    return _edit(db.session.get(PricingPlan, plan_id) or abort(404))
