"""The JSON API of API.md, kept for existing clients."""

from storefront.api import balances, staff  # noqa: F401  (they register routes on bp)
from storefront.api.views import bp

__all__ = ["bp"]
