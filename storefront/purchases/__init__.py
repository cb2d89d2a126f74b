"""Purchases: starting one (initiate) and settling it from Stripe's word (fulfil)."""

from storefront.purchases.fulfil import FulfilOutcome, PurchaseNotVisibleYet, fulfil_purchase
from storefront.purchases.initiate import InitiatedPurchase, initiate_purchase
from storefront.purchases.lookup import purchase_for_intent

__all__ = [
    "FulfilOutcome",
    "InitiatedPurchase",
    "PurchaseNotVisibleYet",
    "fulfil_purchase",
    "initiate_purchase",
    "purchase_for_intent",
]
