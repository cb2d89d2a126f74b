"""Staff forms. Money and hours are typed as decimals and stored as exact integers."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.validators import ValidationError as WTFormsValidationError

from storefront.catalog.services import VALIDITY_RULE
from storefront.ledger.lots import MAX_EXTENSION_DAYS
from storefront.models.catalog import MAX_VALIDITY_DAYS
from storefront.money import EXTRA_CURRENCIES, AmountError, parse_price
from storefront.validation import DecimalNumberField, WholeNumberField

# Bounds shared with the staff API and the commands.
MAX_GRACE_HOURS = 24 * 365
MAX_SESSION_HOURS = 24


def to_minor(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class RequestKeyMixin:
    """A key rendered into the form, so that submitting it twice does the work once."""

    request_key = HiddenField(default=lambda: uuid.uuid4().hex)


class SessionForm(FlaskForm):
    hours = DecimalNumberField("Hours", places=2, validators=[
        InputRequired(), NumberRange(min=Decimal("0.01"), max=Decimal(MAX_SESSION_HOURS))])
    session_ref = StringField("Session reference", validators=[InputRequired(), Length(max=200)])


class CancelSessionForm(FlaskForm):
    session_ref = StringField("Session reference", validators=[InputRequired(), Length(max=200)])


class ExtendForm(RequestKeyMixin, FlaskForm):
    days = WholeNumberField("Days", validators=[
        InputRequired(), NumberRange(min=1, max=MAX_EXTENSION_DAYS)])
    reason = StringField("Reason", validators=[InputRequired(), Length(max=500)])


class RefundForm(RequestKeyMixin, FlaskForm):
    # In the purchase's own currency (whole yen); the view converts it by its exponent.
    amount = DecimalNumberField("Amount", places=None, validators=[
        InputRequired(), NumberRange(min=Decimal("0.01"))])
    reason = StringField("Reason", validators=[Optional(), Length(max=500)])


class CancelSubscriptionForm(RequestKeyMixin, FlaskForm):
    when = SelectField("When", choices=[SelectChoice("period_end", "At the end of the period"),
                                        SelectChoice("now", "Now")])
    confirm = BooleanField("Yes, cancel this subscription at Stripe",
                           validators=[InputRequired(message="Tick the box to confirm.")])


class ExpiryForm(FlaskForm):
    grace_hours = WholeNumberField("Grace (hours)", default=24, validators=[
        InputRequired(), NumberRange(min=0, max=MAX_GRACE_HOURS)])


class PlanForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=100)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    plan_type = SelectField("Type", choices=[SelectChoice("package", "Package"),
                                              SelectChoice("subscription", "Subscription")])
    hours_included = DecimalNumberField("Hours", places=2, validators=[InputRequired()])
    price = DecimalNumberField("Price in EUR (required)", places=2,
                               validators=[InputRequired()])
    validity_days = WholeNumberField("Valid for (days)", validators=[
        Optional(), NumberRange(min=1, max=MAX_VALIDITY_DAYS, message=VALIDITY_RULE)])
    display_order = WholeNumberField("Order", default=0, validators=[InputRequired()])
    is_featured = BooleanField("Most popular")
    is_active = BooleanField("On sale", default=True)
    rollover_unused = BooleanField("Carry a month's unused hours into the next month "
                                   "(subscriptions only)")


def _price_rule(code: str):
    """A price in `code` by that currency's exponent and range (blank: no price in it)."""
    def check(form, field) -> None:
        try:
            parse_price(field.data or "", code)
        except AmountError as error:
            raise WTFormsValidationError(str(error)) from None

    return check


def extra_price_field(form: PlanForm, code: str) -> StringField:
    """The plan form's field of the price in `code`."""
    return getattr(form, f"price_{code}")


# One optional field per other currency: price_usd, price_gbp, …
for _code in EXTRA_CURRENCIES:
    setattr(PlanForm, f"price_{_code}", StringField(
        f"Price in {_code.upper()} (optional)", validators=[Optional(), _price_rule(_code)]))
