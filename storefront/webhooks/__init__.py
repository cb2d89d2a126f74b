"""Stripe webhooks: signature check, event log, dispatch."""

from storefront.webhooks.views import bp

__all__ = ["bp"]
