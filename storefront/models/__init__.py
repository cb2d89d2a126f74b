"""The storefront's tables, one module per aggregate."""

from storefront.models.catalog import PlanPrice, PlanType, PricingPlan
from storefront.models.decline import PaymentDecline, RefusedAttempt
from storefront.models.ledger import Balance, EntryKind, ExpiryNotice, LedgerEntry, Lot
from storefront.models.mail import OutgoingMail
from storefront.models.purchase import Purchase, PurchaseStatus
from storefront.models.reconcile import ReconcileFinding, ReconcileRun
from storefront.models.subscription import Subscription
from storefront.models.user import PendingRegistration, User
from storefront.models.webhook import WebhookEvent, WebhookOutcome

__all__ = [
    "Balance",
    "EntryKind",
    "ExpiryNotice",
    "LedgerEntry",
    "Lot",
    "PaymentDecline",
    "OutgoingMail",
    "PendingRegistration",
    "PlanPrice",
    "PlanType",
    "PricingPlan",
    "Purchase",
    "RefusedAttempt",
    "Subscription",
    "PurchaseStatus",
    "ReconcileFinding",
    "ReconcileRun",
    "User",
    "WebhookEvent",
    "WebhookOutcome",
]
