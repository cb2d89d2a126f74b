"""One error type for everything that can go wrong talking to Stripe (API.md's table)."""

from __future__ import annotations

from storefront.errors import StorefrontError

# error_type -> (HTTP status, message for people). Card errors carry Stripe's own text.
PAYMENT_ERRORS: dict[str, tuple[int, str]] = {
    "card_error": (400, "Your card was declined."),
    "invalid_request_error": (400, "The payment could not be set up. Please try again."),
    "authentication_error": (
        500, "Payments are unavailable because of a configuration problem on our side."
    ),
    "rate_limit_error": (429, "The payment service is busy. Please try again in a moment."),
    "api_connection_error": (
        503, "We could not reach the payment service. Please try again in a moment."
    ),
    "api_error": (502, "The payment service had a problem. Please try again in a moment."),
    "internal_error": (500, "Something went wrong on our side. Please try again."),
}


class PaymentError(StorefrontError):
    """A Stripe call failed; error_type and status follow API.md, the message is safe to show."""

    def __init__(self, error_type: str, message: str | None = None, *, code: str | None = None,
                 decline_code: str | None = None):
        status, default_message = PAYMENT_ERRORS[error_type]
        super().__init__(message or default_message)
        self.error_type = error_type
        self.status = status
        self.code = code
        self.decline_code = decline_code
