"""Run localstripe (the Stripe API emulator) on loopback only, its state file under instance/.

    python -m storefront.stripe_emulator --port 8420 --state-file instance/localstripe.pickle

localstripe itself binds every interface and keeps its state in /tmp; this wrapper binds
127.0.0.1 (port 0 picks a free port), prints "listening on 127.0.0.1:PORT" once it accepts
connections (not before: a caller may use it as soon as it reads the line), and lets a
declined PaymentIntent be retried as Stripe does.
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

from aiohttp import web
from localstripe import resources, server


def _use_state_file(path: str | None) -> None:
    """Point localstripe's store at our state file (or keep it in memory only)."""
    store = resources.store

    def load() -> None:
        if path is None:
            return
        try:
            with open(path, "rb") as handle:
                saved = pickle.load(handle)  # noqa: S301  (our own file, written below)
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--state-file", help="keep state here across restarts (default: none)")
    parser.add_argument("--from-scratch", action="store_true", help="ignore saved state")
    args = parser.parse_args(argv)

    _use_state_file(args.state_file)
    _allow_retry_after_decline()
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
