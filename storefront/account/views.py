"""Account pages: register, log in and out, password links, guest claim, dashboard, receipts."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from storefront.account import services
from storefront.account.forms import (
    ChangePasswordForm,
    ConfirmForm,
    ForgotPasswordForm,
    LoginForm,
    RegisterForm,
    SetPasswordForm,
)
from storefront.account.overview import purchase_history, student_overview
from storefront.account.redirects import safe_next
from storefront.account.subscription_overview import subscription_view
from storefront.account.throttle import (
    login_limits,
    may_send_password_email,
    password_change_limits,
    register_limits,
    reset_limits,
)
from storefront.account.tokens import InvalidToken
from storefront.billing.subscription_changes import switch_plans
from storefront.checkout import access as checkout_access
from storefront.extensions import db
from storefront.models import Purchase
from storefront.models.base import utcnow

bp = Blueprint("account", __name__, url_prefix="/account")

LOGIN_FAILED = "Incorrect email or password."
# The dashboard shows the latest rows; the purchases page pages through the rest.
DASHBOARD_ROWS = 10
HISTORY_PAGE_SIZE = 20
MAX_PAGE = 10**6


def start_session(user) -> None:
    """Log the user in on a fresh session (the old one's contents and id are dropped)."""
    checkout_key = session.get(checkout_access.SESSION_KEY)
    session.clear()
    if checkout_key:  # the purchase this browser was paying for stays reachable
        session[checkout_access.SESSION_KEY] = checkout_key
    login_user(user)


@bp.route("/register", methods=["GET", "POST"])
@register_limits
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        services.register(name=form.name.data, email=form.email.data,
                          password=form.password.data)
        db.session.commit()
        return render_template("account/check_email.html", email=form.email.data)
    return render_template("account/register.html", form=form), 400 if form.errors else 200


@bp.route("/register/confirm/<token>", methods=["GET", "POST"])
def confirm_registration(token: str):
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            user = services.confirm_registration(token)
        except InvalidToken as error:
            return render_template("account/bad_link.html", message=str(error)), 400
        db.session.commit()
        start_session(user)
        flash("Welcome! Your account is ready.", "success")
        return redirect(url_for("account.dashboard"))
    return render_template("account/confirm.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            db.session.commit()
            start_session(user)
            return redirect(safe_next(form.next.data) or url_for("account.dashboard"))
    failed = request.method == "POST"
    return render_template("account/login.html", form=form,
                           error=LOGIN_FAILED if failed else None), 400 if failed else 200


@bp.post("/logout")
@login_required
def logout():
    current_user.end_sessions()
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("catalog.plans"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@reset_limits
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        if may_send_password_email(form.email.data):  # past the cap: the same page, no mail
            services.request_password_reset(form.email.data)
            db.session.commit()
        return render_template("account/check_email.html", email=form.email.data)
    return render_template("account/forgot.html", form=form), 400 if form.errors else 200


def _set_password_page(purpose: str, token: str, title: str):
    try:
        user = services.user_for_link(purpose, token)
    except InvalidToken as error:
        return render_template("account/bad_link.html", message=str(error)), 400
    form = SetPasswordForm()
    if form.validate_on_submit():
        user = services.set_password_from_link(purpose, token, form.password.data)
        db.session.commit()
        start_session(user)
        flash("Your password is set.", "success")
        return redirect(url_for("account.dashboard"))
    return render_template("account/set_password.html", form=form, title=title,
                           user=user), 400 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    return _set_password_page("reset", token, "Choose a new password")


@bp.route("/claim/<token>", methods=["GET", "POST"])
def claim(token: str):
    return _set_password_page("claim", token, "Set a password for your account")


@bp.route("/password", methods=["GET", "POST"])
@login_required
@password_change_limits
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, current_password=form.current_password.data,
                                     new_password=form.password.data)
        except services.WrongPassword as error:
            form.current_password.errors = [str(error)]
        else:
            db.session.commit()
            start_session(current_user._get_current_object())
            flash("Your password is changed. Other devices are logged out.", "success")
            return redirect(url_for("account.dashboard"))
    return render_template("account/change_password.html", form=form), (
        400 if form.errors else 200)


@bp.get("")
@login_required
def dashboard():
    overview = student_overview(current_user, utcnow(), expired_limit=DASHBOARD_ROWS,
                                sessions_limit=DASHBOARD_ROWS)
    subscription = subscription_view(current_user)
    # One row more than shown tells whether the history page has more.
    history = db.session.scalars(purchase_history(current_user).limit(DASHBOARD_ROWS + 1)).all()
    return render_template(
        "account/dashboard.html", overview=overview, subscription=subscription,
        switch_plans=switch_plans(subscription.subscription) if subscription else [],
        history=history[:DASHBOARD_ROWS], more_history=len(history) > DASHBOARD_ROWS)


@bp.get("/purchases")
@login_required
def purchases():
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    result = db.paginate(purchase_history(current_user), page=page, per_page=HISTORY_PAGE_SIZE,
                         error_out=False)
    return render_template("account/purchases.html", page=result)


@bp.get("/purchases/<id:purchase_id>")
@login_required
def receipt(purchase_id: int):
    purchase = db.session.get(Purchase, purchase_id)
    if purchase is None or purchase.student_id != current_user.id or not purchase.is_paid:
        abort(404)
    return render_template("account/receipt.html", purchase=purchase)
