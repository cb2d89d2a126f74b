"""Stripe Billing in the emulator: Prices, default_incomplete subscriptions, invoice.paid.

localstripe 1.15 knows legacy Plans, Subscriptions with allow_incomplete and Invoices paid
through PaymentIntents. Stripe today speaks Prices, creates subscriptions with
payment_behavior=default_incomplete (the first invoice's PaymentIntent waits for the payer on
our page), exposes an invoice's payment as `confirmation_secret` and `payments`, keeps each
item's billing period on the item, and sends invoice.paid. This module teaches localstripe
that dialect so the product's Stripe code runs unchanged against it:

- a Price is a Plan whose id starts with price_ (POST/GET /v1/prices, POST /v1/prices/{id});
- POST /v1/subscriptions takes items[][price], payment_behavior=default_incomplete and
  payment_settings[save_default_payment_method]; POST /v1/subscriptions/{id} takes
  items[][price] with proration_behavior (none: the period stays, nothing is prorated);
- invoices carry confirmation_secret, payments and the subscription's metadata (under
  parent.subscription_details); subscription items carry price and
  current_period_start/end;
- a paid invoice sends invoice.paid beside invoice.payment_succeeded, and the subscription it
  activates sends customer.subscription.updated.

Development and tests only: the launcher (storefront.stripe_emulator) applies it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError

from storefront.stripe_emulator_renewal import add_renewal

PRICE_PREFIX = "price_"
_PRICE_FIELDS = {"unit_amount", "currency", "recurring", "product", "product_data", "active",
                 "metadata", "lookup_key", "transfer_lookup_key", "nickname"}
_PRICE_UPDATABLE = {"active", "metadata", "lookup_key", "transfer_lookup_key", "nickname"}
# What the subscription being created asked for that localstripe's constructor does not take.
_creating: dict[str, Any] = {}


def _is_price(plan: Any) -> bool:
    return isinstance(plan, resources.Plan) and plan.id.startswith(PRICE_PREFIX)


def _plan_of_price(price_id: Any) -> Any:
    missing = UserError(404, f"No such price: '{price_id}'", {"code": "resource_missing",
                                                               "param": "price"})
    if not isinstance(price_id, str) or not price_id.startswith(PRICE_PREFIX):
        raise missing
    try:
        return resources.Plan._api_retrieve(price_id)
    except UserError:
        raise missing from None


def price_of(plan: Any) -> dict[str, Any]:
    """A Plan standing for a Price, in the shape of Stripe's Price object."""
    return {
        "id": plan.id, "object": "price", "active": plan.active,
        "billing_scheme": plan.billing_scheme, "created": plan.created,
        "currency": plan.currency, "custom_unit_amount": None, "livemode": False,
        "lookup_key": getattr(plan, "_lookup_key", None), "metadata": dict(plan.metadata or {}),
        "nickname": plan.nickname, "product": plan.product,
        "recurring": {"interval": plan.interval, "interval_count": plan.interval_count,
                      "meter": None, "trial_period_days": plan.trial_period_days,
                      "usage_type": plan.usage_type},
        "tax_behavior": "unspecified", "tiers_mode": None, "transform_quantity": None,
        "type": "recurring", "unit_amount": plan.amount,
        "unit_amount_decimal": str(plan.amount),
    }


def _prices() -> list[Any]:
    plans = [value for key, value in resources.store.items() if key.startswith("plan:")]
    return sorted((plan for plan in plans if _is_price(plan)),
                  key=lambda plan: plan.created, reverse=True)


def _claim_lookup_key(key: Any, transfer: Any, owner_id: str | None) -> None:
    if key is None:
        return
    if not isinstance(key, str) or not key or len(key) > 200:
        raise UserError(400, "lookup_key: a string of at most 200 characters")
    for other in _prices():
        if other.id != owner_id and getattr(other, "_lookup_key", None) == key:
            if resources.try_convert_to_bool(transfer) is not True:
                raise UserError(400, f"A price (`{other.id}`) already uses that lookup key.")
            other._lookup_key = None


def _bool(value: Any, name: str) -> bool:
    converted = resources.try_convert_to_bool(value)
    if not isinstance(converted, bool):
        raise UserError(400, f"{name}: true or false")
    return converted


def _create_price(data: dict[str, Any]) -> Any:
    unknown = set(data) - _PRICE_FIELDS
    if unknown:
        raise UserError(400, "Received unknown parameter: " + ", ".join(sorted(unknown)))
    recurring = data.get("recurring")
    if not isinstance(recurring, dict) or "interval" not in recurring:
        raise UserError(400, "recurring[interval]: only recurring prices are emulated")
    amount = resources.try_convert_to_int(data.get("unit_amount"))
    if not isinstance(amount, int) or amount < 0:
        raise UserError(400, "unit_amount: a whole number of minor units")
    product = data.get("product")
    if product is None and isinstance(data.get("product_data"), dict):
        product = resources.Product(**data["product_data"]).id
    if not isinstance(product, str):
        raise UserError(400, "product or product_data[name] is required")
    _claim_lookup_key(data.get("lookup_key"), data.get("transfer_lookup_key"), None)
    active = _bool(data.get("active", True), "active")
    plan = resources.Plan(
        id=PRICE_PREFIX + resources.random_id(24), amount=amount, currency=data.get("currency"),
        interval=recurring["interval"], interval_count=recurring.get("interval_count", 1),
        product=product, active=active, metadata=data.get("metadata"),
        nickname=data.get("nickname"))
    plan._lookup_key = data.get("lookup_key")
    return plan


def _update_price(plan: Any, data: dict[str, Any]) -> None:
    unknown = set(data) - _PRICE_UPDATABLE
    if unknown:
        raise UserError(400, "Received unknown parameter: " + ", ".join(sorted(unknown)))
    if "lookup_key" in data:
        _claim_lookup_key(data["lookup_key"] or None, data.get("transfer_lookup_key"), plan.id)
        plan._lookup_key = data["lookup_key"] or None
    if "active" in data:
        plan.active = _bool(data["active"], "active")
    if "nickname" in data:
        plan.nickname = data["nickname"] or None
    metadata = data.get("metadata")
    if isinstance(metadata, dict):
        plan.metadata = {**(plan.metadata or {}), **metadata}
        plan.metadata = {k: v for k, v in plan.metadata.items() if v != ""}


def _listing(data: dict[str, Any]) -> dict[str, Any]:
    prices = _prices()
    if data.get("product") is not None:
        prices = [plan for plan in prices if plan.product == data["product"]]
    if data.get("active") is not None:
        active = _bool(data["active"], "active")
        prices = [plan for plan in prices if plan.active == active]
    keys = data.get("lookup_keys")
    if keys is not None:
        keys = keys if isinstance(keys, list) else [keys]
        prices = [plan for plan in prices if getattr(plan, "_lookup_key", None) in keys]
    after = data.get("starting_after")
    if after:
        ids = [plan.id for plan in prices]
        prices = prices[ids.index(after) + 1:] if after in ids else []
    limit = resources.try_convert_to_int(data.get("limit", 10))
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise UserError(400, "limit: 1 to 100")
    return {"object": "list", "url": "/v1/prices", "has_more": len(prices) > limit,
            "data": [price_of(plan) for plan in prices[:limit]]}


def _add_price_routes() -> None:
    async def create(request: web.Request) -> web.Response:
        data = await server.get_post_data(request) or {}
        data.pop("expand", None)
        return server.json_response(price_of(_create_price(data)))

    async def retrieve(request: web.Request) -> web.Response:
        return server.json_response(price_of(_plan_of_price(request.match_info["id"])))

    async def update(request: web.Request) -> web.Response:
        plan = _plan_of_price(request.match_info["id"])
        data = await server.get_post_data(request) or {}
        data.pop("expand", None)
        _update_price(plan, data)
        return server.json_response(price_of(plan))

    async def listing(request: web.Request) -> web.Response:
        data = server.unflatten_data(request.query) or {}
        data.pop("expand", None)
        return server.json_response(_listing(data))

    router = server.app.router
    router.add_post("/v1/prices", create)
    router.add_get("/v1/prices", listing)
    router.add_get("/v1/prices/{id}", retrieve)
    router.add_post("/v1/prices/{id}", update)


def _subscriptions_take_prices() -> None:
    """items[][price], default_incomplete and payment_settings on POST /v1/subscriptions."""
    subscription = resources.Subscription
    original_create = subscription._api_create.__func__
    original_invoice = subscription._create_invoice

    def _api_create(cls, **data):
        for item in data.get("items") or []:
            if isinstance(item, dict) and "price" in item:
                item["plan"] = _plan_of_price(item.pop("price")).id
        settings = data.pop("payment_settings", None) or {}
        save = settings.get("save_default_payment_method", "off")
        if set(settings) - {"save_default_payment_method"} or save not in ("off",
                                                                             "on_subscription"):
            raise UserError(400, "payment_settings: only save_default_payment_method is emulated")
        default_incomplete = data.get("payment_behavior") == "default_incomplete"
        if default_incomplete:
            data["payment_behavior"] = "allow_incomplete"
        _creating.update(default_incomplete=default_incomplete, save=save)
        try:
            created = original_create(cls, **data)
        finally:
            _creating.clear()
        return created

    def _create_invoice(self):
        if not _creating.get("default_incomplete") or self.latest_invoice is not None:
            return original_invoice(self)
        self._save_default_payment_method = _creating["save"]
        pending = [item for item in resources.InvoiceItem._api_list_all(
            None, customer=self.customer, limit=99)._list if item.invoice is None]
        invoice = resources.Invoice(
            customer=self.customer, subscription=self.id, items=pending + self.items._list,
            tax_percent=self.tax_percent,
            default_tax_rates=[rate.id for rate in (self.default_tax_rates or [])],
            date=self.current_period_start)
        invoice.billing_reason = "subscription_create"
        invoice._finalize()
        if invoice.status == "paid":
            self.status = "active"
            return
        # The first payment waits for the payer: Stripe.js confirms this PaymentIntent.
        intent = resources.PaymentIntent(amount=invoice.total, currency=invoice.currency,
                                         customer=self.customer)
        intent.invoice = invoice.id
        invoice.payment_intent = intent.id

    subscription._api_create = classmethod(_api_create)
    subscription._create_invoice = _create_invoice
    subscription.default_payment_method = None


_PRORATION_BEHAVIORS = ("none", "create_prorations", "always_invoice")


def _subscription_updates_take_prices() -> None:
    """POST /v1/subscriptions/{id} with items[][price] and proration_behavior: a switch of
    Price. With proration_behavior=none (how the storefront switches plans) the period stays
    and nothing is credited or charged now; the next renewal bills the new Price."""
    subscription = resources.Subscription
    original = subscription._update

    def _update(self, items=None, proration_behavior=None, **data):
        if proration_behavior is not None and proration_behavior not in _PRORATION_BEHAVIORS:
            raise UserError(400, f"Invalid proration_behavior: {proration_behavior}")
        for item in items or []:
            if isinstance(item, dict) and "price" in item:
                item["plan"] = _plan_of_price(item.pop("price")).id
        if items is None or proration_behavior != "none":
            return original(self, items=items, **data)
        # The period runs on from where it is, whichever item bills it.
        if getattr(self, "_period_start", None) is None:
            self._period_start = self.current_period_start
        pending = {item.id for item in _pending_items(self.customer)}
        original(self, items=items, **data)
        for item in _pending_items(self.customer):
            if item.id not in pending and item.subscription == self.id:
                resources.InvoiceItem._api_delete(item.id)  # no proration: nothing owed now
        return None

    subscription._update = _update


def _pending_items(customer: str) -> list[Any]:
    return [item for item in resources.InvoiceItem._api_list_all(
        None, customer=customer, limit=99)._list if item.invoice is None]


def _invoices_as_stripe_shows_them() -> None:
    """confirmation_secret, payments, invoice.paid; price and period on subscription items."""
    invoice_cls = resources.Invoice

    def confirmation_secret(self):
        if not self.payment_intent:
            return None
        intent = resources.PaymentIntent._api_retrieve(self.payment_intent)
        return {"client_secret": intent.client_secret, "type": "payment_intent"}

    def payments(self):
        data = []
        if self.payment_intent:
            paid = self.status == "paid"
            data.append({
                "id": "inpay_" + self.payment_intent[3:], "object": "invoice_payment",
                "amount_paid": self.amount_due if paid else None,
                "amount_requested": self.amount_due, "created": self.created,
                "currency": self.currency, "invoice": self.id, "is_default": True,
                "livemode": False, "status": "paid" if paid else "open",
                "payment": {"type": "payment_intent", "payment_intent": self.payment_intent},
                "status_transitions": {"canceled_at": None,
                                       "paid_at": self.status_transitions.get("paid_at")},
            })
        return {"object": "list", "data": data, "has_more": False,
                "url": f"/v1/invoice_payments?invoice={self.id}"}

    def parent(self):
        # Stripe copies the subscription's metadata onto its invoices, so an invoice event
        # that arrives before customer.subscription.created still names its owner.
        if not self.subscription:
            return None
        subscription = resources.Subscription._api_retrieve(self.subscription)
        return {"type": "subscription_details", "quote_details": None,
                "subscription_details": {"subscription": self.subscription,
                                         "metadata": dict(subscription.metadata or {})}}

    invoice_cls.parent = property(parent)
    invoice_cls.confirmation_secret = property(confirmation_secret)
    invoice_cls.payments = property(payments)

    on_success = invoice_cls._on_payment_success

    def _on_payment_success(self):
        self.status_transitions["paid_at"] = int(resources.time.time())
        resources.schedule_webhook(resources.Event("invoice.paid", self))
        on_success(self)

    invoice_cls._on_payment_success = _on_payment_success

    subscription = resources.Subscription
    activated = subscription._on_initial_payment_success

    def _on_initial_payment_success(self, invoice):
        was = self.status
        activated(self, invoice)
        if getattr(self, "_save_default_payment_method", "off") == "on_subscription":
            intent = resources.PaymentIntent._api_retrieve(invoice.payment_intent)
            self.default_payment_method = intent.payment_method
        if self.status != was:
            resources.schedule_webhook(
                resources.Event("customer.subscription.updated", self))

    subscription._on_initial_payment_success = _on_initial_payment_success

    item = resources.SubscriptionItem
    item.price = property(lambda self: price_of(self.plan) if _is_price(self.plan) else None)
    item.current_period_start = property(lambda self: self._current_period()["start"])
    item.current_period_end = property(lambda self: self._current_period()["end"])


def emulate_billing() -> None:
    """Apply every adaptation above to the localstripe in this process."""
    _add_price_routes()
    _subscriptions_take_prices()
    _invoices_as_stripe_shows_them()
    _subscription_updates_take_prices()
    add_renewal()  # POST /_config/subscriptions/{id}/renew: the next billing period
