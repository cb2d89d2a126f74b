"""The JSON API of API.md, kept for existing clients: one blueprint per module."""

from storefront.api.balances import bp as balances_bp
from storefront.api.staff import bp as staff_bp
from storefront.api.views import bp

__all__ = ["balances_bp", "bp", "staff_bp"]
