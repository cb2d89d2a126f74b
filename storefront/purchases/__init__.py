"""Purchases: starting one (initiate) and settling it from Stripe's word (fulfil)."""

from storefront.purchases.fulfil import FulfilOutcome, PurchaseNotVisibleYet, sync_purchase
from storefront.purchases.initiate import InitiatedPurchase, initiate_purchase

__all__ = [
    "FulfilOutcome",
    "InitiatedPurchase",
    "PurchaseNotVisibleYet",
    "initiate_purchase",
    "sync_purchase",
]
