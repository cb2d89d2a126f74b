"""The guest details form of the checkout page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import ValidationError

from storefront.validation import FieldError, clean_email, clean_student_name


def _rule(clean):
    def check(form, field) -> None:
        try:
            field.data = clean(field.data)
        except FieldError as error:
            raise ValidationError(str(error)) from None

    return check


class GuestDetailsForm(FlaskForm):
    """Name and email of a buyer who is not logged in."""

    name = StringField("Your name", validators=[_rule(clean_student_name)])
    email = EmailField("Email", validators=[_rule(clean_email)])
