"""The JSON API of API.md, kept for existing clients."""

from storefront.api import balances  # noqa: F401  (registers its routes on bp)
from storefront.api.views import bp

__all__ = ["bp"]
