"""Staff pages: find a student, see their hours, record and cancel sessions, extend, refund."""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from storefront import ledger, money
from storefront.errors import NotFound, StorefrontError
from storefront.extensions import db
from storefront.formatting import hours_text, money_display
from storefront.models import Purchase, User
from storefront.models.base import utcnow
from storefront.outbox import undelivered
from storefront.purchases.declines import current_blocks, recent_declines, recent_refusals
from storefront.purchases.refunds import (
    extend_package,
    purchase_by_id,
    refundable_minor,
    request_refund,
)
from storefront.rounding import hours_to_minutes
from storefront.staff.access import only_staff
from storefront.staff.forms import (
    MAX_GRACE_HOURS,
    CancelSessionForm,
    CancelSubscriptionForm,
    ExpiryForm,
    ExtendForm,
    RefundForm,
    SessionForm,
)
from storefront.staff.queries import (
    find_students,
    lots_past_expiry,
    student_ledger,
    student_lots,
    student_subscriptions,
)
from storefront.validation import FieldError, clean_int

bp = Blueprint("staff", __name__, url_prefix="/staff")
bp.before_request(only_staff)


def _student(student_id: int) -> User:
    return db.session.get(User, student_id) or abort(404)


def _first_error(form) -> str:
    field, messages = next(iter(form.errors.items()))
    label = getattr(form, field).label.text if hasattr(form, field) else field
    return f"{label}: {messages[0]}"


def _done(student_id: int):
    return redirect(url_for("staff.student", student_id=student_id))


def _refused(form, student_id: int):
    """Back to the student page with the form's first complaint."""
    flash(_first_error(form), "error")
    return _done(student_id)


def _attempt(action, student_id: int, success: str):
    """Run a service call; commit and flash success, or roll back and flash the refusal."""
    try:
        action()
        db.session.commit()
    except StorefrontError as error:
        db.session.rollback()
        flash(error.first_message, "error")
    else:
        flash(success, "success")
    return _done(student_id)


@bp.get("")
def search():
    query = request.args.get("q", "")
    return render_template("staff/search.html", query=query, students=find_students(query))


@bp.get("/students/<id:student_id>")
def student(student_id: int):
    user = _student(student_id)
    every_lot = request.args.get("lots") == "all"
    lots, lot_count = student_lots(user, everything=every_lot)
    before = request.args.get("before", type=int)  # a page of older entries; bad → newest
    entries, older = student_ledger(user, before=before)
    return render_template(
        "staff/student.html", student=user, lots=lots, entries=entries, older=older,
        newest=before is not None, lot_count=lot_count, every_lot=every_lot,
        overview_minutes=sum(lot.minutes_remaining for lot, _ in lots),
        session_form=SessionForm(), cancel_form=CancelSessionForm(),
        extend_form=ExtendForm(), refund_form=RefundForm(),
        refundable=refundable_minor, now=utcnow(),
        subscriptions=student_subscriptions(user),
        cancel_subscription_form=CancelSubscriptionForm(),
    )


@bp.post("/students/<id:student_id>/sessions")
def record_session(student_id: int):
    user = _student(student_id)
    form = SessionForm()
    if not form.validate():
        return _refused(form, student_id)
    minutes = hours_to_minutes(form.hours.data)
    try:
        result = ledger.consume_minutes(student_id=user.id, minutes=minutes,
                                        session_ref=form.session_ref.data.strip(), now=utcnow())
        db.session.commit()
    except ledger.InsufficientBalance as error:
        db.session.rollback()
        flash(f"Not recorded: {hours_text(error.missing)} hours missing "
              f"({hours_text(error.available)} available).", "error")
    except StorefrontError as error:
        db.session.rollback()
        flash(error.first_message, "error")
    else:
        flash("Already recorded; nothing changed." if result.repeated else
              f"Recorded {hours_text(minutes)} hours for {form.session_ref.data.strip()}.",
              "info" if result.repeated else "success")
    return _done(student_id)


@bp.post("/students/<id:student_id>/sessions/cancel")
def cancel_session(student_id: int):
    _student(student_id)
    form = CancelSessionForm()
    if not form.validate():
        return _refused(form, student_id)
    ref = form.session_ref.data.strip()
    return _attempt(lambda: ledger.cancel_consumption(student_id=student_id, session_ref=ref,
                                                      now=utcnow()),
                    student_id, f"Session {ref} cancelled; its hours are back.")


def _purchase(purchase_id: int) -> Purchase:
    try:
        return purchase_by_id(purchase_id)
    except NotFound:
        abort(404)


@bp.post("/purchases/<id:purchase_id>/extend")
def extend(purchase_id: int):
    purchase = _purchase(purchase_id)
    form = ExtendForm()
    if not form.validate():
        return _refused(form, purchase.student_id)
    return _attempt(lambda: extend_package(
        purchase=purchase, days=form.days.data, reason=form.reason.data, now=utcnow(),
        request_key=form.request_key.data), purchase.student_id,
        f"Purchase {purchase.id} extended by {form.days.data} days.")


@bp.post("/purchases/<id:purchase_id>/refund")
def refund(purchase_id: int):
    purchase = _purchase(purchase_id)
    form = RefundForm()
    if not form.validate():
        return _refused(form, purchase.student_id)
    try:  # typed in the purchase's own currency, by its exponent (whole yen)
        amount_minor = money.to_minor(form.amount.data, purchase.currency)
    except money.AmountError as error:
        flash(f"{form.amount.label.text}: {error}", "error")
        return _done(purchase.student_id)
    shown = money_display(amount_minor, purchase.currency, current_app.config["BABEL_LOCALE"])
    return _attempt(lambda: request_refund(
        purchase=purchase, amount_minor=amount_minor,
        reason=form.reason.data or "", request_key=form.request_key.data),
        purchase.student_id, f"Refund of {shown} sent to Stripe.")


@bp.route("/expiry", methods=["GET", "POST"])
def expiry():
    """Packages past their expiry that still hold hours; POST expires them (idempotent)."""
    form = ExpiryForm()
    if form.validate_on_submit():
        expired = ledger.expire_lots(now=utcnow(), grace=timedelta(hours=form.grace_hours.data))
        db.session.commit()
        flash(f"Expired {hours_text(sum(e.minutes for e in expired))} hours in "
              f"{len(expired)} package(s).", "success")
        return redirect(url_for("staff.expiry", grace_hours=form.grace_hours.data))
    if form.errors:
        flash(_first_error(form), "error")
    try:
        form.grace_hours.data = clean_int(request.args.get("grace_hours", "24"), minimum=0,
                                          maximum=MAX_GRACE_HOURS)
    except FieldError:
        form.grace_hours.data = 24
    overdue = lots_past_expiry(utcnow(), timedelta(hours=form.grace_hours.data))
    return render_template("staff/expiry.html", form=form, overdue=overdue)


@bp.get("/declines")
def declines():
    """Card testing: sources now refused after too many declines, and recent declines."""
    return render_template("staff/declines.html", blocks=current_blocks(),
                           declines=recent_declines(), refusals=recent_refusals(), now=utcnow())


@bp.get("/mail")
def mail():
    """Email the outbox has not delivered yet: recipient and subject only (bodies hold
    claim and reset links)."""
    return render_template("staff/mail.html", waiting=undelivered(), now=utcnow())
