"""`make run`'s launcher (python -m storefront.devserver): the emulator answers before the
webhook is registered, the app answers, the mail worker runs, and SIGTERM stops every child."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from stripe import StripeClient

from tests.support import wait_for

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split(") ")[-1].startswith("Z")


@pytest.fixture
def workdir(tmp_path) -> Path:
    """A checkout-like directory: wsgi.py, and an instance/ of its own."""
    shutil.copy(ROOT / "wsgi.py", tmp_path / "wsgi.py")
    return tmp_path


def _env(workdir: Path, port: int, emulator_port: int) -> dict[str, str]:
    """The environment of `make run` on a fresh machine, on the given ports."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "FLASK_"))}
    return {**inherited, "PORT": str(port), "STRIPE_EMULATOR_PORT": str(emulator_port),
            "STOREFRONT_ENV": "development", "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"sqlite:///{workdir / 'storefront.db'}"}


@pytest.mark.parametrize("attempt", range(10))
def test_make_run_starts_and_stops_cleanly(workdir, attempt):
    """Ten starts in a row: before the fix about a third failed (Connection refused)."""
    port, emulator_port = _free_port(), _free_port()
    launcher = subprocess.Popen([sys.executable, "-m", "storefront.devserver"], cwd=workdir,
                                env=_env(workdir, port, emulator_port),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        app_url = f"http://127.0.0.1:{port}/api/finances/api/stripe/config/"
        wait_for(lambda: launcher.poll() is not None or _status(app_url) == 401, timeout=60)
        assert launcher.poll() is None, "the launcher gave up"
        assert _status(f"http://127.0.0.1:{emulator_port}/v1/customers") in (200, 401)
        children = _children(launcher.pid)
        assert len(children) == 3  # the emulator, the app and the mail worker
    finally:
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=30) == 0
    assert all(_gone(child) for child in children)
    assert _status(app_url) is None
    assert _status(f"http://127.0.0.1:{emulator_port}/v1/customers") is None


def test_a_failed_start_leaves_no_emulator_behind(workdir):
    emulator_port = _free_port()
    with socket.socket() as busy:  # the app's port is taken: flask run cannot start
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = _env(workdir, busy.getsockname()[1], emulator_port)
        launcher = subprocess.run([sys.executable, "-m", "storefront.devserver"], cwd=workdir,
                                  env=env, capture_output=True, timeout=90)
    assert launcher.returncode != 0
    assert _status(f"http://127.0.0.1:{emulator_port}/v1/customers") is None


def test_make_run_gives_the_subscription_plans_their_stripe_prices(workdir):
    port, emulator_port = _free_port(), _free_port()
    env = _env(workdir, port, emulator_port)
    for command in (["db", "upgrade"], ["seed-plans"]):  # what make run does first
        subprocess.run([sys.executable, "-m", "flask", *command], cwd=ROOT, check=True,
                       env={**env, "FLASK_APP": "wsgi.py"}, capture_output=True, timeout=120)
    launcher = subprocess.Popen([sys.executable, "-m", "storefront.devserver"], cwd=workdir,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        app_url = f"http://127.0.0.1:{port}/api/finances/api/stripe/config/"
        wait_for(lambda: launcher.poll() is not None or _status(app_url) == 401, timeout=60)
        assert launcher.poll() is None, "the launcher gave up"
        stripe = StripeClient("sk_test_emulator",
                              base_addresses={"api": f"http://127.0.0.1:{emulator_port}"})
        prices = stripe.v1.prices.list(params={"active": True}).data
        assert sorted(price.unit_amount for price in prices) == [11900, 19900, 29900]
    finally:
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=30) == 0
