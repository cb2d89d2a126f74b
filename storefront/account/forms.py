"""Account forms; the rules are the same functions the API uses."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired

from storefront.account.passwords import check_new_password
from storefront.validation import clean_email, clean_student_name, form_rule


class RegisterForm(FlaskForm):
    name = StringField("Your name", validators=[form_rule(clean_student_name)])
    email = EmailField("Email", validators=[form_rule(clean_email)])
    password = PasswordField("Password", validators=[form_rule(check_new_password)])


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[form_rule(clean_email)])
    password = PasswordField("Password", validators=[InputRequired("Enter your password.")])
    next = HiddenField()


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[form_rule(clean_email)])


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[form_rule(check_new_password)])
    confirm = PasswordField("Repeat the password",
                            validators=[EqualTo("password", "The passwords do not match.")])


class ChangePasswordForm(SetPasswordForm):
    current_password = PasswordField("Current password",
                                     validators=[InputRequired("Enter your current password.")])


class ConfirmForm(FlaskForm):
    """A button, so that a link scanner's GET does not act."""
