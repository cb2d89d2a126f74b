"""The JSON API of API.md, kept for existing clients."""

from storefront.api.views import bp

__all__ = ["bp"]
