"""Staff forms. Money and hours are typed as decimals and stored as exact integers."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from storefront.catalog.services import VALIDITY_RULE
from storefront.models.catalog import MAX_VALIDITY_DAYS


def to_minutes(hours: Decimal) -> int:
    return int((hours * 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_minor(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class RequestKeyMixin:
    """A key rendered into the form, so that submitting it twice does the work once."""

    request_key = HiddenField(default=lambda: uuid.uuid4().hex)


class SessionForm(FlaskForm):
    hours = DecimalField("Hours", places=2, validators=[
        InputRequired(), NumberRange(min=Decimal("0.01"), max=Decimal("24"))])
    session_ref = StringField("Session reference", validators=[InputRequired(), Length(max=200)])


class CancelSessionForm(FlaskForm):
    session_ref = StringField("Session reference", validators=[InputRequired(), Length(max=200)])


class ExtendForm(RequestKeyMixin, FlaskForm):
    days = IntegerField("Days", validators=[InputRequired(), NumberRange(min=1, max=365)])
    reason = StringField("Reason", validators=[InputRequired(), Length(max=500)])


class RefundForm(RequestKeyMixin, FlaskForm):
    amount = DecimalField("Amount (€)", places=2, validators=[
        InputRequired(), NumberRange(min=Decimal("0.01"))])
    reason = StringField("Reason", validators=[Optional(), Length(max=500)])


class ExpiryForm(FlaskForm):
    grace_hours = IntegerField("Grace (hours)", default=24,
                               validators=[InputRequired(), NumberRange(min=0, max=24 * 365)])


class PlanForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=100)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    plan_type = SelectField("Type", choices=[SelectChoice("package", "Package"),
                                              SelectChoice("subscription", "Subscription")])
    hours_included = DecimalField("Hours", places=2, validators=[InputRequired()])
    price = DecimalField("Price (€)", places=2, validators=[InputRequired()])
    validity_days = IntegerField("Valid for (days)", validators=[
        Optional(), NumberRange(min=1, max=MAX_VALIDITY_DAYS, message=VALIDITY_RULE)])
    display_order = IntegerField("Order", default=0, validators=[InputRequired()])
    is_featured = BooleanField("Most popular")
    is_active = BooleanField("On sale", default=True)
