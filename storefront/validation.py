"""Rules for what people type: names, email addresses and numbers. Shared by the API, the
pages and the commands."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from email_validator import EmailNotValidError, validate_email
from wtforms import DecimalField, IntegerField
from wtforms.validators import ValidationError as WTFormsValidationError

from storefront.errors import ValidationError

NAME_MAX_LENGTH = 150
_NAME_PUNCTUATION = frozenset(" '-.")
INVALID_EMAIL = "Enter a valid email address."
REQUIRED = "This field is required."
INVALID_INTEGER = "A valid integer is required."
INVALID_NUMBER = "A valid number is required."
# The database's INTEGER columns: a larger number can be no id, count or duration of ours.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# ASCII digits only: str.isdigit() and int() also take "²", "١" and "１".
_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_MAX_DIGITS = 30


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


def _bounded(number, minimum, maximum):
    if number < minimum:
        raise FieldError(f"Ensure this value is greater than or equal to {minimum}.")
    if number > maximum:
        raise FieldError(f"Ensure this value is less than or equal to {maximum}.")
    return number


def clean_int(value: object, *, minimum: int = INT_MIN, maximum: int = INT_MAX) -> int:
    """A whole number sent by a client, or FieldError: a JSON integer or ASCII digits (with an
    optional minus) within [minimum, maximum]; booleans, floats and other scripts' digits fail."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise FieldError(REQUIRED)
    if isinstance(value, str):
        text = value.strip()
        if not _INTEGER.fullmatch(text):
            raise FieldError(INVALID_INTEGER)
        if len(text.lstrip("-0")) > _MAX_DIGITS:  # int() of 5000 digits is slow, or refused
            value = minimum - 1 if text.startswith("-") else maximum + 1
        else:
            value = int(text)
    elif isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(INVALID_INTEGER)
    return _bounded(value, minimum, maximum)


def clean_decimal(value: object, *, minimum: Decimal, maximum: Decimal) -> Decimal:
    """A decimal number typed by a client, or FieldError: ASCII digits with an optional point,
    within [minimum, maximum]; no exponent, NaN, infinity or other scripts' digits."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise FieldError(REQUIRED)
    text = value.strip() if isinstance(value, str) else ""
    if not _DECIMAL.fullmatch(text) or len(text) > _MAX_DIGITS:
        raise FieldError(INVALID_NUMBER)
    return _bounded(Decimal(text), minimum, maximum)


def parse_int(value: object, *, field: str, minimum: int = INT_MIN, maximum: int = INT_MAX,
              default: int | None = None) -> int:
    """clean_int for a request field: ValidationError naming the field (default when absent)."""
    if value is None and default is not None:
        return default
    try:
        return clean_int(value, minimum=minimum, maximum=maximum)
    except FieldError as error:
        raise ValidationError.for_fields({field: [str(error)]}) from None


def parse_decimal(value: object, *, field: str, minimum: Decimal, maximum: Decimal) -> Decimal:
    """clean_decimal for a request field: ValidationError naming the field."""
    try:
        return clean_decimal(value, minimum=minimum, maximum=maximum)
    except FieldError as error:
        raise ValidationError.for_fields({field: [str(error)]}) from None


class WholeNumberField(IntegerField):
    """An integer form field read by clean_int (ASCII digits, database range); blank is None,
    left to InputRequired or Optional."""

    def process_formdata(self, valuelist: list) -> None:
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            self.data = clean_int(valuelist[0])
        except FieldError as error:
            self.data = None
            raise ValueError(str(error)) from None


class DecimalNumberField(DecimalField):
    """A decimal form field read by clean_decimal (ASCII digits and a point, no exponent);
    NumberRange validators give the bounds."""

    def process_formdata(self, valuelist: list) -> None:
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            self.data = clean_decimal(valuelist[0], minimum=Decimal(-(10**12)),
                                      maximum=Decimal(10**12))
        except FieldError as error:
            self.data = None
            raise ValueError(str(error)) from None


def form_rule(clean):
    """A WTForms validator made from a clean_* function (which may normalise the value)."""
    def check(form, field) -> None:
        try:
            field.data = clean(field.data)
        except FieldError as error:
            raise WTFormsValidationError(str(error)) from None

    return check
