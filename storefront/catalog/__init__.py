"""The catalog: pricing plans, their listing page and the plan cache."""

from storefront.catalog.views import bp

__all__ = ["bp"]
