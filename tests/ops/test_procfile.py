"""The Procfile as a platform runs it: the release command migrates an empty database, then
the web (gunicorn, gunicorn.conf.py, two workers) and the mail worker run side by side with
production's services (PostgreSQL when TEST_DATABASE_URL is set, else a SQLite file; Redis for
limits and the plan cache; SMTP), and a guest buys a package through them: initiate, pay at
Stripe (the emulator), the webhook credits the hours, and the worker delivers the email.

Production and staging refuse the emulator (STRIPE_API_BASE) by design, so these processes
run as STOREFRONT_ENV=testing with every production service configured."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storefront.config import EMULATOR_PUBLISHABLE_KEY, EMULATOR_SECRET_KEY
from tests.conftest import TEST_DATABASE_URL
from tests.ops.conftest import ROOT, SECRET_KEY, Gunicorn
from tests.support import BLACKHOLE_URL, INITIATE_URL, WEBHOOK_PATH, WEBHOOK_SECRET, pay, wait_for

BIN = Path(sys.executable).parent


def procfile() -> dict[str, str]:
    """The Procfile's process types and their commands."""
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = command.strip()
    return processes


@pytest.fixture
def empty_database(tmp_path):
    """The URL of a database with nothing in it: a new PostgreSQL database beside
    TEST_DATABASE_URL's, else a new SQLite file."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path / 'deployed.db'}"
        return
    name = f"storefront_deploy_{uuid.uuid4().hex[:12]}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _run(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(shlex.split(command), cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture
def deployment(empty_database, fresh_redis, mailbox, stripe_emulator):
    """The environment of every process of the deployment."""
    stripe_emulator.reset()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("STRIPE_", "RATELIMIT_", "CACHE_", "PROXY_FIX_", "MAIL_"))}
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "STOREFRONT_ENV": "testing",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": empty_database,
        "STRIPE_SECRET_KEY": EMULATOR_SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": EMULATOR_PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": stripe_emulator.base_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(mailbox.port),
        "PUBLIC_BASE_URL": "https://shop.example.com",
        "TRUSTED_HOSTS": "shop.example.com,127.0.0.1",
        "RATELIMIT_STORAGE_URI": fresh_redis,
        "CACHE_REDIS_URL": fresh_redis.rsplit("/", 1)[0] + "/1",
        "PYTHONUNBUFFERED": "1",
    })
    yield env
    stripe_emulator.send_webhooks_to(BLACKHOLE_URL)


def test_the_procfile_declares_release_web_and_worker():
    assert procfile() == {
        "release": "flask db upgrade",
        "web": "gunicorn wsgi:app -c gunicorn.conf.py",
        "worker": "flask mail deliver --watch",
    }


def test_a_package_is_bought_through_the_procfiles_processes(deployment, stripe_emulator,
                                                            mailbox, tmp_path):
    processes = procfile()
    released = _run(processes["release"], deployment)
    assert released.returncode == 0, released.stderr
    seeded = _run("flask seed-plans", deployment)
    assert seeded.returncode == 0, seeded.stderr

    assert processes["web"].startswith("gunicorn ")
    web = Gunicorn(deployment, command=shlex.split(processes["web"]))
    worker_log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(shlex.split(processes["worker"]), cwd=ROOT, env=deployment,
                              stdout=worker_log, stderr=subprocess.STDOUT)
    try:
        stripe_emulator.send_webhooks_to(web.url + WEBHOOK_PATH)
        host = {"Host": "shop.example.com"}
        plans = requests.get(web.url + "/api/finances/api/pricing-plans/", headers=host,
                             timeout=30).json()
        plan = next(p for p in plans if p["name"] == "Basic Package")
        started = requests.post(web.url + INITIATE_URL, headers=host, timeout=60, json={
            "plan_id": plan["id"], "student_info": {"name": "Ana Silva",
                                                    "email": "ana@example.com"}})
        assert started.status_code == 201, started.text
        pay(stripe_emulator, started.json()["payment_intent_id"])

        engine = create_engine(deployment["DATABASE_URL"])
        purchase_id = started.json()["transaction_id"]

        def credited() -> int:
            with engine.connect() as connection:
                return connection.execute(text(
                    "SELECT minutes_granted FROM lots WHERE purchase_id = :id"),
                    {"id": purchase_id}).scalar() or 0

        expected = round(float(plan["hours_included"]) * 60)
        assert wait_for(credited, timeout=60) == expected
        mail = wait_for(lambda: [m for m in mailbox.received if m["To"] == "ana@example.com"],
                        timeout=60)
        assert mail
        engine.dispose()
        verified = _run("flask ledger verify", deployment)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            assert worker.wait(timeout=30) == 0, (tmp_path / "worker.log").read_text()
        finally:
            worker_log.close()
            web.stop()
