"""`make run`: the app on 127.0.0.1 and the mail worker, with the Stripe emulator unless real
keys are set.

Without STRIPE_SECRET_KEY, starts the emulator (port STRIPE_EMULATOR_PORT, default 8420,
state under instance/), registers the webhook endpoint with it (secret: STRIPE_WEBHOOK_SECRET
or a generated one) and points the app at it. The mail worker (`flask mail deliver --watch`)
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
import urllib.request
from urllib.parse import urlencode

from dotenv import load_dotenv

WEBHOOK_PATH = "/api/finances/webhooks/stripe/"


def _start_emulator(port: int, instance_dir: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "storefront.stripe_emulator", "--port", str(port),
         "--state-file", os.path.join(instance_dir, "localstripe.pickle")],
        stdout=subprocess.PIPE, text=True,
    )
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("listening on"):
        process.terminate()
        raise SystemExit(f"the Stripe emulator did not start (port {port} busy?)")
    print(f"Stripe emulator {line.strip()}", flush=True)
    return process


def register_webhook(api_base: str, url: str, secret: str) -> None:
    """Tell the emulator where to send signed events."""
    request = urllib.request.Request(
        f"{api_base}/_config/webhooks/storefront",
        data=urlencode({"url": url, "secret": secret}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        response.read()


def main() -> None:
    load_dotenv()
    port = int(os.environ.get("PORT", "5000"))
    env = dict(os.environ, FLASK_APP="wsgi.py", STOREFRONT_ENV=os.environ.get(
        "STOREFRONT_ENV", "development"))
    instance_dir = os.path.join(os.getcwd(), "instance")
    os.makedirs(instance_dir, exist_ok=True)
    children: list[subprocess.Popen] = []

    if not os.environ.get("STRIPE_SECRET_KEY"):
        emulator_port = int(os.environ.get("STRIPE_EMULATOR_PORT", "8420"))
        api_base = f"http://127.0.0.1:{emulator_port}"
        secret = os.environ.get("STRIPE_WEBHOOK_SECRET") or "whsec_" + secrets.token_hex(24)
        children.append(_start_emulator(emulator_port, instance_dir))
        register_webhook(api_base, f"http://127.0.0.1:{port}{WEBHOOK_PATH}", secret)
        env.update(STRIPE_API_BASE=api_base, STRIPE_WEBHOOK_SECRET=secret)
        print(json.dumps({"mode": "test (Stripe emulator)", "api_base": api_base}), flush=True)
    else:
        print(json.dumps({"mode": "Stripe", "keys": "from the environment"}), flush=True)

    children.append(subprocess.Popen(
        [sys.executable, "-m", "flask", "run", "--host", "127.0.0.1", "--port", str(port),
         "--no-reload"],
        env=env,
    ))
    children.append(subprocess.Popen(
        [sys.executable, "-m", "flask", "mail", "deliver", "--watch"], env=env,
    ))
    print(f"Storefront on http://127.0.0.1:{port}/", flush=True)

    def stop(signum=None, frame=None) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    stop()


if __name__ == "__main__":
    main()
