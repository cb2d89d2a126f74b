"""Rules for what people type: names and email addresses. Shared by the API and the pages."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email
from wtforms.validators import ValidationError as WTFormsValidationError

NAME_MAX_LENGTH = 150
_NAME_PUNCTUATION = frozenset(" '-.")
INVALID_EMAIL = "Enter a valid email address."


class FieldError(ValueError):
    """One field's value breaks a rule; the text is for people."""


def clean_student_name(value: object) -> str:
    """The trimmed name, or FieldError: letters of any script, digits, spaces and ' - . only.

    Markup and control characters are refused, not stripped.
    """
    if not isinstance(value, str) or not value.strip():
        raise FieldError("This field is required.")
    name = value.strip()
    if len(name) > NAME_MAX_LENGTH:
        raise FieldError(f"Ensure this field has no more than {NAME_MAX_LENGTH} characters.")
    for char in name:
        category = unicodedata.category(char)
        if char in _NAME_PUNCTUATION or category[0] in ("L", "M") or category == "Nd":
            continue
        raise FieldError("Use only letters, digits, spaces and the characters ' - .")
    if not any(unicodedata.category(char).startswith("L") for char in name):
        raise FieldError("Enter a name with at least one letter.")
    return name


def clean_email(value: object) -> str:
    """The trimmed, lower-cased address, or FieldError when it is not a valid address."""
    if not isinstance(value, str) or not value.strip():
        raise FieldError("This field is required.")
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise FieldError(INVALID_EMAIL) from None
    return result.normalized.lower()


def email_identity(value: object) -> str:
    """The address as accounts are found by it (clean_email), for keying throttles; text that
    is not a valid address gets its trimmed, NFKC-folded, case-folded form, so it still counts."""
    try:
        return clean_email(value)
    except FieldError:
        text = value if isinstance(value, str) else ""
        return unicodedata.normalize("NFKC", text).strip().casefold()


def form_rule(clean):
    """A WTForms validator made from a clean_* function (which may normalise the value)."""
    def check(form, field) -> None:
        try:
            field.data = clean(field.data)
        except FieldError as error:
            raise WTFormsValidationError(str(error)) from None

    return check
