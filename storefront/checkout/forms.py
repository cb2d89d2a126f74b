"""The guest details form of the checkout page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, StringField

from storefront.validation import clean_email, clean_student_name, form_rule


class GuestDetailsForm(FlaskForm):
    """Name and email of a buyer who is not logged in."""

    name = StringField("Your name", validators=[form_rule(clean_student_name)])
    email = EmailField("Email", validators=[form_rule(clean_email)])
