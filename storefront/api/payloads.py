"""Reading the initiate request body into checked values (API.md's rules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storefront.errors import ValidationError
from storefront.money import CURRENCIES, is_supported
from storefront.validation import REQUIRED, FieldError, clean_email, clean_int, clean_student_name


@dataclass(frozen=True)
class InitiateRequest:
    plan_id: int
    name: str
    email: str
    currency: str | None = None


def parse_initiate(body: Any) -> InitiateRequest:
    """The plan id, name, email and optional currency (any case); any other field (an
    amount, a price) is ignored."""
    if not isinstance(body, dict):
        raise ValidationError.for_fields({"non_field_errors": ["Send a JSON object."]})
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    try:
        values["plan_id"] = clean_int(body.get("plan_id"))
    except FieldError as error:
        errors["plan_id"] = [str(error)]

    currency = body.get("currency")
    if currency is not None:
        if is_supported(currency):
            values["currency"] = currency.lower()
        else:
            errors["currency"] = ["Choose one of " + ", ".join(
                code.upper() for code in CURRENCIES) + "."]

    info = body.get("student_info")
    if info is None:
        errors["student_info"] = [REQUIRED]
    elif not isinstance(info, dict):
        errors["student_info"] = ["Expected an object with name and email."]
    else:
        for key, clean in (("name", clean_student_name), ("email", clean_email)):
            try:
                values[key] = clean(info.get(key))
            except FieldError as error:
                errors[f"student_info.{key}"] = [str(error)]
    if errors:
        raise ValidationError.for_fields(errors)
    return InitiateRequest(**values)
