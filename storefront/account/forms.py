"""Account forms; the rules are the same functions the API uses."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, ValidationError

from storefront.account.passwords import check_new_password
from storefront.validation import FieldError, clean_email, clean_student_name


def rule(clean):
    """A WTForms validator from a clean_* function (which may normalise the value)."""
    def check(form, field) -> None:
        try:
            field.data = clean(field.data)
        except FieldError as error:
            raise ValidationError(str(error)) from None

    return check


class RegisterForm(FlaskForm):
    name = StringField("Your name", validators=[rule(clean_student_name)])
    email = EmailField("Email", validators=[rule(clean_email)])
    password = PasswordField("Password", validators=[rule(check_new_password)])


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[rule(clean_email)])
    password = PasswordField("Password", validators=[InputRequired("Enter your password.")])
    next = HiddenField()


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[rule(clean_email)])


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[rule(check_new_password)])
    confirm = PasswordField("Repeat the password",
                            validators=[EqualTo("password", "The passwords do not match.")])


class ConfirmForm(FlaskForm):
    """A button, so that a link scanner's GET does not act."""
