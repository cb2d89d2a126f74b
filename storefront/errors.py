"""Domain errors raised by the services; views turn them into pages or JSON."""

from __future__ import annotations


class StorefrontError(Exception):
    """A refusal with a message fit for people, an API error type and an HTTP status."""

    error_type = "internal_error"
    status = 500

    def __init__(self, message: str, *, field_errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors

    @property
    def first_message(self) -> str:
        """The message without the field path, for pages that show it beside the form."""
        if self.field_errors:
            return next(iter(self.field_errors.values()))[0]
        return self.message

    def to_json(self) -> dict:
        body: dict = {"success": False, "error_type": self.error_type, "message": self.message}
        if self.field_errors:
            body["field_errors"] = self.field_errors
        return body


class ValidationError(StorefrontError):
    """Input that breaks a rule; field_errors are keyed by dotted path."""

    error_type = "validation_error"
    status = 400

    @classmethod
    def for_fields(cls, field_errors: dict[str, list[str]]) -> ValidationError:
        """Build the error whose message starts with the first failing path."""
        path, messages = next(iter(field_errors.items()))
        return cls(f"{path}: {messages[0]}", field_errors=field_errors)


class NotFound(StorefrontError):
    error_type = "not_found"
    status = 404
