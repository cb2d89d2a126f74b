"""Student-balance endpoints (logged in; staff may ask about anyone with ?email=)."""

from __future__ import annotations

from decimal import Decimal

from flask import abort, jsonify, request, url_for
from flask_login import current_user, login_required

from storefront.account.overview import (
    Package,
    all_packages,
    completed_purchases,
    open_lots,
    purchase_history,
    purchases_sessions,
    student_overview,
)
from storefront.account.students import find_by_email
from storefront.account.subscription_overview import SubscriptionView, subscription_view
from storefront.api.views import api_blueprint
from storefront.errors import ValidationError
from storefront.extensions import db
from storefront.formatting import amount_text, hours_text, iso_utc
from storefront.models import Purchase, PurchaseStatus, User
from storefront.models.base import utcnow
from storefront.money import BASE_CURRENCY
from storefront.rounding import hours_to_minutes
from storefront.validation import FieldError, clean_email, parse_decimal, parse_int

PREFIX = "/student-balance"
bp = api_blueprint("api_balances", __name__)
PAGE_SIZE, MAX_PAGE_SIZE = 20, 100
MAX_BOOKING_HOURS = 1000
MAX_PAGE = 10**6


def _student() -> User:
    """The logged-in user, or for staff the student named by ?email=."""
    email = request.args.get("email")
    if email is None:
        return current_user
    if not current_user.is_staff:
        abort(403)
    try:
        email = clean_email(email)
    except FieldError as error:
        raise ValidationError.for_fields({"email": [str(error)]}) from None
    return find_by_email(email) or abort(404, description="No student with that email.")


def _package(p: Package) -> dict:
    return {
        "transaction_id": p.transaction_id,
        "plan_name": p.plan_name,
        "hours_included": hours_text(p.minutes_granted),
        "hours_consumed": hours_text(p.minutes_consumed),
        "hours_remaining": hours_text(p.minutes_remaining),
        "hours_on_hold": hours_text(p.minutes_on_hold),
        "expires_at": iso_utc(p.expires_at),
        "days_until_expiry": p.days_until_expiry,
        "is_expired": p.is_expired,
    }


@bp.get(f"{PREFIX}/")
@bp.get(f"{PREFIX}/summary/")
@login_required
def balance_summary():
    """Balance, packages, upcoming expirations."""
    student = _student()
    view = student_overview(student, utcnow())
    return jsonify({
        "student_info": {"id": student.id, "name": student.name, "email": student.email},
        "balance_summary": {
            "hours_purchased": hours_text(view.purchased_minutes),
            "hours_consumed": hours_text(view.consumed_minutes),
            "hours_expired": hours_text(view.expired_minutes),
            "hours_refunded": hours_text(view.refunded_minutes),
            "remaining_hours": hours_text(view.available_minutes),
            # In euros, as it always was; every currency's own in balance_amounts.
            "balance_amount": amount_text(view.values_remaining.get(BASE_CURRENCY, 0)),
            "balance_amounts": {code: amount_text(minor, code)
                                for code, minor in sorted(view.values_remaining.items())},
        },
        "package_status": {
            "active_packages": [_package(p) for p in view.active],
            "expired_packages": [_package(p) for p in view.expired],
        },
        "upcoming_expirations": [
            {key: _package(p)[key] for key in ("transaction_id", "plan_name", "hours_remaining",
                                               "expires_at", "days_until_expiry")}
            for p in view.upcoming_expirations
        ],
        "subscription_info": _subscription_info(subscription_view(student)),
    })


def _subscription_info(view: SubscriptionView | None) -> dict:
    """The student's subscription (the live one, or else the one that ended last)."""
    if view is None:
        return {"has_active_subscription": False, "subscription": None}
    return {
        "has_active_subscription": view.is_active,
        "subscription": {
            "is_active": view.is_active,
            "subscription_status": view.status,
            "billing_cycle": "monthly",
            "plan_name": view.plan.name,
            "next_billing_date": iso_utc(view.next_payment_at),
            "cancel_at_period_end": view.cancel_at_period_end,
            "current_period_start": iso_utc(view.current_period_start),
            "current_period_end": iso_utc(view.current_period_end),
        },
    }


def _purchase(purchase: Purchase) -> dict:
    return {
        "transaction_id": purchase.id,
        "plan_name": purchase.plan_name,
        "transaction_type": purchase.plan_type,
        "payment_status": purchase.status,
        "amount": amount_text(purchase.price_minor, purchase.currency),
        "currency": purchase.currency.upper(),
        "hours_included": hours_text(purchase.minutes),
        "payment_intent_id": purchase.payment_intent_id,
        "created_at": iso_utc(purchase.created_at),
        "paid_at": iso_utc(purchase.paid_at),
        "expires_at": iso_utc(purchase.expires_at),
    }


@bp.get(f"{PREFIX}/history/")
@login_required
def balance_history():
    """All purchases, newest first; filters payment_status and transaction_type; paginated."""
    student = _student()
    status = request.args.get("payment_status") or None
    plan_type = request.args.get("transaction_type") or None
    if status and status not in {s.value for s in PurchaseStatus}:
        raise ValidationError.for_fields({"payment_status": ["Unknown status."]})
    if plan_type and plan_type not in ("package", "subscription"):
        raise ValidationError.for_fields({"transaction_type": [
            "Must be package or subscription."]})
    page = parse_int(request.args.get("page"), field="page", minimum=1, maximum=MAX_PAGE,
                     default=1)
    size = min(parse_int(request.args.get("page_size"), field="page_size", minimum=1,
                         maximum=MAX_PAGE, default=PAGE_SIZE), MAX_PAGE_SIZE)
    result = db.paginate(purchase_history(student, status=status, plan_type=plan_type),
                         page=page, per_page=size, error_out=False)

    def link(number: int | None) -> str | None:
        if number is None:
            return None
        args = {**request.args.to_dict(), "page": number, "page_size": size}
        return url_for("api_balances.balance_history", _external=True, **args)

    return jsonify({
        "count": result.total,
        "next": link(result.next_num if result.has_next else None),
        "previous": link(result.prev_num if result.has_prev and page > 1 else None),
        "results": [_purchase(p) for p in result.items],
    })


@bp.get(f"{PREFIX}/purchases/")
@login_required
def balance_purchases():
    """Completed purchases; active_only=true keeps those with usable hours;
    include_consumption=true adds the sessions drawn from each."""
    student = _student()
    active_only = request.args.get("active_only", "").lower() == "true"
    with_consumption = request.args.get("include_consumption", "").lower() == "true"
    packages = {p.transaction_id: p for p in all_packages(student, utcnow())}
    purchases = [purchase for purchase in completed_purchases(student)
                 if not active_only or _is_active(packages.get(purchase.id))]
    sessions = purchases_sessions([p.id for p in purchases]) if with_consumption else {}
    results = []
    for purchase in purchases:
        item = _purchase(purchase)
        package = packages.get(purchase.id)
        if package:
            item.update({k: v for k, v in _package(package).items() if k != "plan_name"})
        if with_consumption:
            item["consumption"] = [
                {"session_ref": e.reference, "kind": e.kind, "hours": hours_text(-e.minutes),
                 "created_at": iso_utc(e.created_at)} for e in sessions.get(purchase.id, [])]
        results.append(item)
    return jsonify({"count": len(results), "results": results})


def _is_active(package: Package | None) -> bool:
    return package is not None and not package.is_expired and (
        package.minutes_remaining > 0 or package.minutes_on_hold > 0)


@bp.get(f"{PREFIX}/check-booking/")
@login_required
def check_booking():
    """Whether a session of duration_hours can be booked with the usable hours."""
    student = _student()
    hours = parse_decimal(request.args.get("duration_hours"), field="duration_hours",
                          minimum=Decimal(0), maximum=Decimal(MAX_BOOKING_HOURS))
    required = hours_to_minutes(hours)
    if required < 1:
        raise ValidationError.for_fields({"duration_hours": [
            "Must be at least one minute (0.02)."]})
    now = utcnow()
    active = [lot for lot, _ in open_lots(student.id)
              if lot.expires_at is None or lot.expires_at > now]
    available = sum(lot.minutes_remaining for lot in active)
    can_book = available >= required > 0
    body = {
        "can_book": can_book,
        "hours_required": hours_text(required),
        "hours_available": hours_text(available),
        "hours_remaining_after": hours_text(max(available - required, 0)),
        "has_active_packages": bool(active),
        "active_package_count": len(active),
    }
    if not can_book:
        body["reason"] = ("No active packages." if not active else
                          f"Not enough hours: {hours_text(required)} needed, "
                          f"{hours_text(available)} available.")
    return jsonify(body)
