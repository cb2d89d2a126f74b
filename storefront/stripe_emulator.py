"""Run localstripe (the Stripe API emulator) on loopback only, its state file under instance/.

    python -m storefront.stripe_emulator --port 8420 --state-file instance/localstripe.pickle

localstripe itself binds every interface and keeps its state in /tmp; this wrapper binds
127.0.0.1 (port 0 picks a free port), prints "listening on 127.0.0.1:PORT" once it accepts
connections (not before: a caller may use it as soon as it reads the line), lets a declined
PaymentIntent be retried as Stripe does, declines Stripe's documented test cards the way
Stripe does (code, decline_code, message, last_payment_error), takes
automatic_payment_methods (offering cards, its only method), and speaks Stripe Billing's
current dialect (Prices, default_incomplete subscriptions, invoice.paid: see
stripe_emulator_billing).
Development and tests only: it is not imported by the app.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import pickle
import signal
import socket
import sys
import time
from dataclasses import dataclass

from aiohttp import web
from localstripe import resources, server, webhooks
from localstripe.errors import UserError

from storefront.stripe_emulator_billing import emulate_billing


def _use_state_file(path: str | None) -> None:
    """Point localstripe's store at our state file (or keep it in memory only)."""
    store = resources.store

    def load() -> None:
        if path is None:
            return
        try:
            with open(path, "rb") as handle:
                saved = pickle.load(handle)  # noqa: S301 (our own file, written below)  # nosec B301
        except FileNotFoundError:
            return
        dict.clear(store)
        dict.update(store, saved)

    def dump() -> None:
        if path is None:
            return
        with open(path, "wb") as handle:
            pickle.dump(dict(store), handle, protocol=pickle.HIGHEST_PROTOCOL)

    store.try_load_from_disk = load
    store.dump_to_disk = dump


def _allow_retry_after_decline() -> None:
    """Like Stripe, let a PaymentIntent be confirmed again after a declined attempt.

    localstripe keeps the failed charge and refuses a second confirmation; Stripe accepts a
    new payment method on the same PaymentIntent, which is how a student retries.
    """
    payment_intent = resources.PaymentIntent
    original = payment_intent._api_update.__func__

    def _api_update(cls, id, **data):  # noqa: A002  (localstripe's signature)
        if "payment_method" in data:
            intent = cls._api_retrieve(id)
            charge = intent.latest_charge
            if charge is not None and charge.status == "failed" and not intent._canceled:
                intent.latest_charge = None
        return original(cls, id, **data)

    payment_intent._api_update = classmethod(_api_update)


@dataclass(frozen=True)
class _TestCard:
    number: str
    attach_declined: bool  # Stripe refuses to attach it to a customer
    decline_code: str | None  # None: charges succeed
    message: str = "Your card was declined."


# https://docs.stripe.com/testing#declined-payments, by their test PaymentMethod ids.
TEST_CARDS: dict[str, _TestCard] = {
    "pm_card_visa": _TestCard("4242424242424242", False, None),
    "pm_card_visa_chargeDeclined": _TestCard("4000000000000002", True, "generic_decline"),
    "pm_card_visa_chargeDeclinedInsufficientFunds": _TestCard(
        "4000000000009995", True, "insufficient_funds", "Your card has insufficient funds."),
    "pm_card_visa_chargeDeclinedLostCard": _TestCard("4000000000009987", True, "lost_card"),
    "pm_card_visa_chargeDeclinedStolenCard": _TestCard("4000000000009979", True, "stolen_card"),
    "pm_card_chargeCustomerFail": _TestCard("4000000000000341", False, "generic_decline"),
}
_BY_NUMBER = {card.number: card for card in TEST_CARDS.values()}


def _card_of(payment_method_id: str | None) -> _TestCard | None:
    if not payment_method_id:
        return None
    try:
        method = resources.PaymentMethod._api_retrieve(payment_method_id)
    except Exception:  # noqa: BLE001  (not a card of ours: localstripe's own behaviour)
        return None
    return _BY_NUMBER.get(getattr(method, "_card_number", None))


def _decline_test_cards_as_stripe_does() -> None:
    """Teach localstripe Stripe's declining test cards and how Stripe reports a decline.

    localstripe knows only three test PaymentMethods, declines 4000 0000 0000 0002 at attach
    but lets it pay, and reports every decline without a decline_code.
    """
    payment_method, charge = resources.PaymentMethod, resources.Charge
    canonical = payment_method._try_get_canonical_test_article.__func__

    def _try_get_canonical_test_article(cls, id):  # noqa: A002
        card = TEST_CARDS.get(id)
        if card is None:
            return canonical(cls, id)
        return cls(type="card", card={"number": card.number, "exp_month": "12",
                                      "exp_year": "2030", "cvc": "123"})

    payment_method._try_get_canonical_test_article = classmethod(_try_get_canonical_test_article)

    attaching = payment_method._attaching_is_declined
    charging = payment_method._charging_is_declined

    def _attaching_is_declined(self):
        card = _BY_NUMBER.get(getattr(self, "_card_number", None))
        return card.attach_declined if card else attaching(self)

    def _charging_is_declined(self):
        card = _BY_NUMBER.get(getattr(self, "_card_number", None))
        return card.decline_code is not None if card else charging(self)

    payment_method._attaching_is_declined = _attaching_is_declined
    payment_method._charging_is_declined = _charging_is_declined

    set_failure = charge._set_auth_failure

    def _set_auth_failure(self):
        set_failure(self)
        card = _card_of(self.payment_method)
        self._decline_code = card.decline_code if card else "generic_decline"
        if card:
            self.failure_message = card.message
        self.outcome = {"type": "issuer_declined", "reason": self._decline_code,
                        "network_status": "declined_by_network"}

    def _raise_failure(self):
        error = UserError(402, self.failure_message, {
            "code": self.failure_code, "decline_code": getattr(self, "_decline_code", None),
            "charge": self.id})
        error.body["error"]["type"] = "card_error"
        raise error

    charge._set_auth_failure = _set_auth_failure
    charge._raise_failure = _raise_failure

    last_error = resources.PaymentIntent.last_payment_error.fget

    def last_payment_error(self):
        error = last_error(self)
        charge = self.latest_charge
        if error and charge is not None and charge.status == "failed":
            error.update(type="card_error", payment_method={"id": charge.payment_method},
                         decline_code=getattr(charge, "_decline_code", None))
        return error

    resources.PaymentIntent.last_payment_error = property(last_payment_error)


def _automatic_payment_methods_as_cards() -> None:
    """Take `automatic_payment_methods[enabled]=true`, as Stripe does, and offer cards for it:
    the emulator's only payment method. localstripe refuses the parameter, and ignores
    `payment_method_types`; both now show on the PaymentIntent as Stripe shows them."""
    payment_intent = resources.PaymentIntent
    original = payment_intent.__init__

    def __init__(self, *args, automatic_payment_methods=None, payment_method_types=None,
                 **kwargs):
        enabled = (automatic_payment_methods or {}).get("enabled") in ("true", True)
        if automatic_payment_methods is not None and (not enabled or payment_method_types):
            raise UserError(400, "automatic_payment_methods[enabled] must be true, and "
                                 "cannot be combined with payment_method_types")
        original(self, *args, **kwargs)
        self.automatic_payment_methods = {"enabled": True} if enabled else None
        self.payment_method_types = list(payment_method_types or ["card"])

    payment_intent.__init__ = __init__


class _Clock:
    """Stands in for localstripe's `time` module: Stripe's clock, which tests may move ahead
    (POST /_config/clock offset_seconds=N) to date objects later without waiting."""

    offset_seconds = 0.0

    def time(self) -> float:
        return time.time() + self.offset_seconds

    def __getattr__(self, name: str):
        return getattr(time, name)


def _settable_clock() -> None:
    """Give the emulator a clock of its own and a route that sets its offset."""
    clock = _Clock()
    resources.time = clock

    async def set_clock(request: web.Request) -> web.Response:
        data = await request.post()
        try:
            clock.offset_seconds = float(data.get("offset_seconds", "0"))
        except ValueError:
            return web.json_response({"error": {"message": "offset_seconds: a number"}},
                                     status=400)
        return web.json_response({"offset_seconds": clock.offset_seconds})

    server.app.router.add_post("/_config/clock", set_clock)


def _reset_forgets_unsent_events() -> None:
    """DELETE /_config/data also drops the events localstripe has not sent yet (it sends each
    a second after the change): they name objects that no longer exist, and would reach
    whichever app is listening by then."""
    pending: set[asyncio.Future] = set()

    def schedule_webhook(event: object) -> None:
        future = asyncio.ensure_future(webhooks._send_webhook(event))
        pending.add(future)
        future.add_done_callback(pending.discard)

    webhooks.schedule_webhook = resources.schedule_webhook = schedule_webhook

    @web.middleware
    async def forget_on_reset(request: web.Request, handler):
        if request.method == "DELETE" and request.path == "/_config/data":
            for future in list(pending):
                future.cancel()
        return await handler(request)

    server.app.middlewares.append(forget_on_reset)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--state-file", help="keep state here across restarts (default: none)")
    parser.add_argument("--from-scratch", action="store_true", help="ignore saved state")
    args = parser.parse_args(argv)

    _use_state_file(args.state_file)
    _allow_retry_after_decline()
    _decline_test_cards_as_stripe_does()
    _automatic_payment_methods_as_cards()
    _settable_clock()
    _reset_forgets_unsent_events()
    emulate_billing()
    if not args.from_scratch:
        resources.store.try_load_from_disk()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    logging.basicConfig(level=logging.INFO, format="stripe-emulator: %(message)s")
    asyncio.run(_serve(sock))


async def _serve(sock: socket.socket) -> None:
    """Serve until SIGTERM or SIGINT; announce the address only once connections are accepted."""
    runner = web.AppRunner(server.app, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await web.SockSite(runner, sock).start()
        host, port = sock.getsockname()
        print(f"listening on {host}:{port}", flush=True)  # the launcher reads this line
        await stop.wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    sys.exit(main())
