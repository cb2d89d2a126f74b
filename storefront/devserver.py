"""`make run`: the app on 127.0.0.1 and the mail worker, with the Stripe emulator unless real
keys are set.

Without STRIPE_SECRET_KEY, starts the emulator (port STRIPE_EMULATOR_PORT, default 8420,
state under instance/), registers the webhook endpoint with it (secret: STRIPE_WEBHOOK_SECRET
or a generated one) and points the app at it. Then `flask stripe sync-plans` gives the
subscription plans their Stripe Products and Prices (a failure is reported, not fatal: packages
still sell). The mail worker (`flask mail deliver --watch`)
sends the email outbox. Ctrl-C or SIGTERM stops every process.
Development only: not imported by the app.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

from dotenv import find_dotenv, load_dotenv

WEBHOOK_PATH = "/api/finances/webhooks/stripe/"


START_DEADLINE_SECONDS = 30


def _wait_until_answering(url: str, process: subprocess.Popen, what: str) -> None:
    """Poll url until any HTTP answer comes; SystemExit if the process dies or time runs out."""
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (http on loopback)  # nosec B310
                return
        except urllib.error.HTTPError:
            return  # it answered (401, 404…): it is serving
        except OSError:
            pass
        if process.poll() is not None:
            raise SystemExit(f"{what} exited while starting (port busy?)")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not answer within {START_DEADLINE_SECONDS} s")
        time.sleep(0.1)


def _start_emulator(port: int, instance_dir: str, children: list[subprocess.Popen]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "storefront.stripe_emulator", "--port", str(port),
         "--state-file", os.path.join(instance_dir, "localstripe.pickle")],
        stdout=subprocess.PIPE, text=True,
    )
    children.append(process)
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("listening on"):
        raise SystemExit(f"the Stripe emulator did not start (port {port} busy?)")
    _wait_until_answering(f"http://127.0.0.1:{port}/v1/customers", process,
                          "the Stripe emulator")
    print(f"Stripe emulator {line.strip()}", flush=True)


def register_webhook(api_base: str, url: str, secret: str) -> None:
    """Tell the emulator where to send signed events."""
    request = urllib.request.Request(
        f"{api_base}/_config/webhooks/storefront",
        data=urlencode({"url": url, "secret": secret}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (http on loopback)  # nosec B310
        response.read()


def stop_children(children: list[subprocess.Popen]) -> None:
    """Terminate every child still running, then kill those that linger past 10 s."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _start(port: int, children: list[subprocess.Popen]) -> None:
    """Start the emulator (unless real keys are set) and the app, appending each to children."""
    env = dict(os.environ, FLASK_APP="wsgi.py", STOREFRONT_ENV=os.environ.get(
        "STOREFRONT_ENV", "development"))
    instance_dir = os.path.join(os.getcwd(), "instance")
    os.makedirs(instance_dir, exist_ok=True)
    if not os.environ.get("STRIPE_SECRET_KEY"):
        emulator_port = int(os.environ.get("STRIPE_EMULATOR_PORT", "8420"))
        api_base = f"http://127.0.0.1:{emulator_port}"
        secret = os.environ.get("STRIPE_WEBHOOK_SECRET") or "whsec_" + secrets.token_hex(24)
        _start_emulator(emulator_port, instance_dir, children)
        register_webhook(api_base, f"http://127.0.0.1:{port}{WEBHOOK_PATH}", secret)
        env.update(STRIPE_API_BASE=api_base, STRIPE_WEBHOOK_SECRET=secret)
        print(json.dumps({"mode": "test (Stripe emulator)", "api_base": api_base}), flush=True)
    else:
        print(json.dumps({"mode": "Stripe", "keys": "from the environment"}), flush=True)
    try:
        synced = subprocess.run([sys.executable, "-m", "flask", "stripe", "sync-plans"],
                                env=env, check=False, timeout=START_DEADLINE_SECONDS * 4)
        failed = synced.returncode != 0
    except subprocess.TimeoutExpired:
        failed = True
    if failed:
        print("flask stripe sync-plans failed: subscription plans cannot be sold until it "
              "succeeds", file=sys.stderr, flush=True)

    children.append(subprocess.Popen(
        [sys.executable, "-m", "flask", "run", "--host", "127.0.0.1", "--port", str(port),
         "--no-reload"],
        env=env,
    ))
    children.append(subprocess.Popen(
        [sys.executable, "-m", "flask", "mail", "deliver", "--watch"], env=env,
    ))
    print(f"Storefront on http://127.0.0.1:{port}/", flush=True)


class _Stop(Exception):
    """SIGTERM or SIGINT arrived."""


def _raise_stop(signum, frame) -> None:
    raise _Stop


def main() -> None:
    load_dotenv(find_dotenv(usecwd=True))
    port = int(os.environ.get("PORT", "5000"))
    children: list[subprocess.Popen] = []
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        _start(port, children)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        failed = True  # a child exited on its own
    except _Stop:
        failed = False
    finally:
        # Whatever happened (a start failure, a signal, a child's exit), no child outlives us.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop_children(children)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
