"""The next billing period, on demand, in the emulator (localstripe has no clock).

    POST /_config/subscriptions/{id}/renew

does what Stripe does when a monthly subscription's period ends:
- a subscription set to cancel at period end ends instead (customer.subscription.deleted);
- otherwise its period moves one interval on, the next invoice is created for its price
  (invoice.created) and charged to its default payment method, the one saved on the first
  payment (or the customer's invoice default);
- paid: payment_intent.succeeded, invoice.paid and invoice.payment_succeeded (and a past-due
  subscription becomes active again);
- declined (card 4000 0000 0000 0341 attaches but fails charges): payment_intent.payment_failed,
  invoice.payment_failed, and the subscription goes past_due;
- then one customer.subscription.updated with the new period and the resulting status.

It answers with the subscription. Subscriptions also take `default_payment_method` on update,
so a test or a developer can put a failing card on one, and paying an open invoice
(POST /v1/invoices/{id}/pay) charges that card: a card saved on the dashboard pays what a
failed renewal left owing (a SetupIntent attaches the card it saves to its customer).
Development and tests only: stripe_emulator_billing applies it; `flask stripe renew SUB_ID`
calls it.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError

_ENDED = ("canceled", "incomplete_expired")


def _period_from_renewals() -> None:
    """A subscription item's period starts where the last renewal put it, not at the
    subscription's start."""
    item = resources.SubscriptionItem
    original = item._current_period

    def _current_period(self):
        period = original(self)
        if not self._subscription:
            return period
        subscription = resources.Subscription._api_retrieve(self._subscription)
        start = getattr(subscription, "_period_start", None)
        if start is None:
            return period
        return {"start": start, "end": start + (period["end"] - period["start"])}

    item._current_period = _current_period


def _take_default_payment_method() -> None:
    """POST /v1/subscriptions/{id} with default_payment_method, as Stripe accepts it."""
    subscription = resources.Subscription
    original = subscription._update

    def _update(self, default_payment_method=None, **data):
        if default_payment_method is not None:
            method = resources.PaymentMethod._api_retrieve(default_payment_method)
            if method.customer != self.customer:
                raise UserError(400, "The payment method must be attached to the customer.")
            self.default_payment_method = method.id
        return original(self, **data)

    subscription._update = _update


def _event(kind: str, obj: Any) -> None:
    resources.schedule_webhook(resources.Event(kind, obj))


def _payment_method_of(subscription: Any) -> str | None:
    if subscription.default_payment_method:
        return subscription.default_payment_method
    customer = resources.Customer._api_retrieve(subscription.customer)
    method = customer._get_default_payment_method_or_source()
    return method.id if method is not None else None


def _failed(subscription: Any, invoice: Any, intent: Any | None) -> None:
    was = subscription.status
    if intent is not None:
        _event("payment_intent.payment_failed", intent)
    invoice._on_payment_failure_now()  # invoice.payment_failed; the subscription past_due
    if subscription.status != was:
        _event("customer.subscription.updated", subscription)


def renew(subscription_id: str) -> Any:
    """Start the subscription's next billing period as Stripe would; returns it."""
    subscription = resources.Subscription._api_retrieve(subscription_id)
    if subscription.status in _ENDED or subscription.status == "incomplete":
        raise UserError(400, f"A subscription that is {subscription.status} does not renew.")
    if subscription.cancel_at_period_end:
        subscription.canceled_at = subscription.canceled_at or int(resources.time.time())
        return resources.Subscription._api_delete(subscription.id)
    was = subscription.status
    subscription._period_start = subscription.current_period_end
    pending = [item for item in resources.InvoiceItem._api_list_all(
        None, customer=subscription.customer, limit=99)._list if item.invoice is None]
    invoice = resources.Invoice(
        customer=subscription.customer, subscription=subscription.id,
        items=pending + subscription.items._list, tax_percent=subscription.tax_percent,
        default_tax_rates=[rate.id for rate in (subscription.default_tax_rates or [])],
        date=subscription.current_period_start)
    invoice.billing_reason = "subscription_cycle"
    invoice._finalize()
    _charge(subscription, invoice)
    if subscription.status == was:
        # The new period, in one update after the payment's outcome (a change of status
        # sent its own): two states in one second would leave their order to chance.
        _event("customer.subscription.updated", subscription)
    resources.store.dump_to_disk()
    return subscription


def _charge(subscription: Any, invoice: Any) -> None:
    if invoice.status == "paid":  # nothing to charge (a 0.00 month)
        invoice._on_payment_success()
        return
    method = _payment_method_of(subscription)
    if method is None:
        _failed(subscription, invoice, None)
        return
    intent = resources.PaymentIntent(amount=invoice.total, currency=invoice.currency,
                                     customer=subscription.customer, payment_method=method)
    intent.invoice = invoice.id
    invoice.payment_intent = intent.id
    intent._confirm(on_failure_now=lambda: _failed(subscription, invoice, intent))


_PAY_INVOICE = re.compile(r"^/v1/invoices/(in_\w+)/pay$")


def pay_subscription_invoice(invoice: Any) -> Any:
    """Charge an open subscription invoice to the subscription's default payment method (a
    card just saved for it), as Stripe does; a past-due subscription it pays is active."""
    subscription = resources.Subscription._api_retrieve(invoice.subscription)
    was = subscription.status
    invoice._draft = False
    _charge(subscription, invoice)
    if invoice.status == "paid" and subscription.status == "past_due":
        subscription.status = "active"
    if subscription.status != was:
        _event("customer.subscription.updated", subscription)
    return invoice


@web.middleware
async def _pay_with_the_subscriptions_card(request: web.Request, handler: Any) -> Any:
    """POST /v1/invoices/{id}/pay on an open subscription invoice: localstripe charges the
    customer's default card; Stripe charges the subscription's."""
    match = _PAY_INVOICE.match(request.path) if request.method == "POST" else None
    if match:
        invoice = resources.Invoice._api_retrieve(match.group(1))
        if invoice.subscription and invoice.status == "open":
            return server.json_response(pay_subscription_invoice(invoice)._export())
    return await handler(request)


def _setup_intents_attach_their_card() -> None:
    """A SetupIntent of a customer attaches the card it saved to that customer, as Stripe
    does, so the card can then pay the customer's subscription."""
    setup_intent = resources.SetupIntent
    original = setup_intent._attach_pm

    def _attach_pm(self, pm):
        original(self, pm)
        if self.status == "succeeded" and self.customer and pm.customer is None:
            pm.customer = self.customer

    setup_intent._attach_pm = _attach_pm


def add_renewal() -> None:
    """The renewal route and what it needs from localstripe."""
    _period_from_renewals()
    _take_default_payment_method()
    _setup_intents_attach_their_card()
    server.app.middlewares.append(_pay_with_the_subscriptions_card)

    async def renew_route(request: web.Request) -> web.Response:
        subscription = renew(request.match_info["id"])
        return server.json_response(subscription._export())

    server.app.router.add_post("/_config/subscriptions/{id}/renew", renew_route)
