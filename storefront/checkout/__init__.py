"""Checkout: the buyer's details, the Payment Element, and the outcome page."""

from storefront.checkout.test_mode import test_mode_bp
from storefront.checkout.views import bp

__all__ = ["bp", "test_mode_bp"]
