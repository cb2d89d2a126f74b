"""Fixtures: a real Stripe emulator, a real database (SQLite, or PostgreSQL through
TEST_DATABASE_URL), the app, its test client, a live server and a real Chromium."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import socket
from datetime import timedelta
from pathlib import Path

import flask_migrate
import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from storefront import create_app, ledger
from storefront.account.passwords import hash_password
from storefront.extensions import db
from storefront.models import Lot, User
from storefront.models.base import utcnow
from tests.support import (
    BLACKHOLE_URL,
    STRIPE_PUBLISHABLE_KEY,
    STRIPE_SECRET_KEY,
    WEBHOOK_PATH,
    WEBHOOK_SECRET,
    Emulator,
    LiveServer,
    StripeStub,
    pay,
    signed_event,
    start_purchase,
)

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# CI explores the same property-test examples on every run, so a red run is reproducible.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if IN_CI:
    hypothesis_settings.load_profile("ci")


def _chromium() -> str | None:
    for path in ("/usr/lib/chromium/chromium", "/usr/bin/chromium"):
        if os.access(path, os.X_OK):
            return path
    return None


CHROMIUM = _chromium()


def pytest_report_header(config) -> list[str]:
    database = "PostgreSQL (TEST_DATABASE_URL)" if TEST_DATABASE_URL else "SQLite"
    browser = CHROMIUM or "not found: browser tests will be skipped"
    return [f"storefront database: {database}", f"storefront chromium: {browser}"]


def pytest_collection_modifyitems(config, items) -> None:
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set TEST_DATABASE_URL (CI does)")
    skip_browser = pytest.mark.skip(
        reason="Chromium is not installed (apt-get install chromium): browser tests SKIPPED"
    )
    for item in items:
        if "postgres_only" in item.keywords and not TEST_DATABASE_URL:
            item.add_marker(skip_pg)
        # With CI=true a missing browser is not skipped: tests/browser/conftest.py fails it.
        if "browser" in item.keywords and CHROMIUM is None and not IN_CI:
            item.add_marker(skip_browser)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    from tests.browser.pages import WRITTEN

    if WRITTEN:
        terminalreporter.write_sep("-", f"{len(WRITTEN)} screenshots of the pages (look at them)")
        for path in WRITTEN:
            terminalreporter.write_line(str(path))
    if CHROMIUM is None:
        terminalreporter.write_line(
            "NOTE: Chromium not found, so the browser tests did not run "
            "(apt-get install chromium).", yellow=True)


# --- Stripe -------------------------------------------------------------------------------

@pytest.fixture
def closed_port():
    """A loopback address where nothing listens: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: the port stays ours and closed
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="session")
def stripe_emulator():
    """One emulator process for the whole run, reset before each test that uses the app."""
    emulator = Emulator()
    yield emulator
    emulator.stop()


@pytest.fixture
def stripe_stub():
    stub = StripeStub()
    yield stub
    stub.stop()


class Mailbox:
    """A real SMTP server (aiosmtpd) on loopback; keeps what it receives. Reading it first
    runs the outbox delivery (`flask mail deliver`), as the mail worker would have by then."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        mailbox = self
        self.received: list[email.message.EmailMessage] = []
        self.deliver = None  # set per test by make_app
        self.connections = 0  # SMTP connections that delivered mail

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                if not getattr(session, "delivered", False):
                    session.delivered = True
                    mailbox.connections += 1
                mailbox.received.append(email.message_from_bytes(
                    envelope.original_content or envelope.content, policy=email.policy.default))
                return "250 OK"

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        """Everything received, once the outbox has delivered what is due."""
        if self.deliver is not None:
            self.deliver()
        return self.received

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def last_link(self, address: str) -> str:
        """The last http link mailed to the address."""
        body = self.to(address)[-1].get_content()
        return re.findall(r"https?://\S+", body)[-1]


@pytest.fixture(scope="session")
def smtp_server():
    server = Mailbox()
    yield server
    server.controller.stop()


@pytest.fixture
def mailbox(smtp_server):
    smtp_server.received.clear()
    smtp_server.connections = 0
    smtp_server.deliver = None
    yield smtp_server
    smtp_server.deliver = None


def deliver_mail(app):
    """Deliver the outbox once, as `flask mail deliver` run by cron would; the CLI result."""
    return app.test_cli_runner().invoke(args=["mail", "deliver"])


# --- Database -----------------------------------------------------------------------------

def _base_config(database_url: str, api_base: str) -> dict:
    return {
        "STOREFRONT_ENV": "testing",
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": STRIPE_PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": api_base,
        "STRIPE_MAX_NETWORK_RETRIES": 0,
        "STRIPE_TIMEOUT_SECONDS": 10,
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "CACHE_TYPE": "SimpleCache",
        "SERVER_NAME": None,
    }


class SqliteDatabase:
    """A migrated template file, copied afresh for every test."""

    def __init__(self, directory: Path, api_base: str) -> None:
        self.template = directory / "template.db"
        self.path = directory / "storefront.db"
        self.url = f"sqlite:///{self.path}"
        app = create_app(_base_config(f"sqlite:///{self.template}", api_base))
        with app.app_context():
            flask_migrate.upgrade()
            db.engine.dispose()

    def prepare(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        shutil.copy(self.template, self.path)


class PostgresDatabase:
    """A migrated schema, emptied before every test (TRUNCATE fires no row triggers)."""

    def __init__(self, url: str, api_base: str) -> None:
        self.url = url
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        app = create_app(_base_config(url, api_base))
        with app.app_context():
            flask_migrate.upgrade()
            self.tables = [t.name for t in db.metadata.sorted_tables]
            db.engine.dispose()
        self.engine = create_engine(url)

    def prepare(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                text(f"TRUNCATE {', '.join(self.tables)} RESTART IDENTITY CASCADE")
            )


@pytest.fixture(scope="session")
def database(tmp_path_factory, stripe_emulator):
    if TEST_DATABASE_URL:
        database = PostgresDatabase(TEST_DATABASE_URL, stripe_emulator.base_url)
        yield database
        database.engine.dispose()
    else:
        yield SqliteDatabase(tmp_path_factory.mktemp("db"), stripe_emulator.base_url)


# --- The app ------------------------------------------------------------------------------

@pytest.fixture
def make_app(database, stripe_emulator, mailbox):
    """Build apps on a fresh database and a reset emulator, mailing to the test SMTP server;
    override settings per call."""
    database.prepare()
    stripe_emulator.reset()
    stripe_emulator.send_webhooks_to(BLACKHOLE_URL)
    apps = []

    def factory(**overrides):
        settings = {**_base_config(database.url, stripe_emulator.base_url),
                    "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": mailbox.port}
        app = create_app({**settings, **overrides})
        apps.append(app)
        return app

    couriers = []

    def deliver() -> None:
        if not couriers:  # an app of the test's own database, mailing to the test server
            couriers.append(factory())
        result = deliver_mail(couriers[0])
        assert result.exit_code == 0, result.output

    mailbox.deliver = deliver
    yield factory
    stripe_emulator.send_webhooks_to(BLACKHOLE_URL)
    for app in apps:
        if "storefront.plan_copy" in app.extensions:  # its thread listening for plan changes
            app.extensions["storefront.plan_copy"].close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def seeded(app):
    """The default plans, as {name: id}."""
    from storefront.catalog.services import seed_default_plans

    with app.app_context():
        seed_default_plans()
        db.session.commit()
        from storefront.models import PricingPlan

        return {plan.name: plan.id for plan in db.session.scalars(db.select(PricingPlan))}


# Prices in other currencies than euros, for the tests of currencies (minor units).
EXTRA_PRICES = {
    "Basic Package": {"usd": 8200, "gbp": 6500, "jpy": 12000},
    "Standard Package": {"usd": 15000},
    "Monthly Unlimited": {"usd": 21900, "jpy": 32000},
}


@pytest.fixture
def priced(app, seeded):
    """The default plans, some with prices in other currencies (EXTRA_PRICES), as
    {name: id}."""
    from storefront.models import PlanPrice

    with app.app_context():
        for name, amounts in EXTRA_PRICES.items():
            for currency, amount in amounts.items():
                db.session.add(PlanPrice(plan_id=seeded[name], currency=currency,
                                         amount_minor=amount))
        db.session.commit()
    return seeded


@pytest.fixture
def synced(app, seeded, runner):
    """The default plans with the subscription plans' Stripe Products and Prices made
    (`flask stripe sync-plans`), as {name: id}."""
    result = runner.invoke(args=["stripe", "sync-plans"])
    assert result.exit_code == 0, result.output
    return seeded


@pytest.fixture
def live_server(app, stripe_emulator):
    """The app over HTTP, with the emulator's webhooks delivered to it."""
    server = LiveServer(app)
    stripe_emulator.send_webhooks_to(server.url + WEBHOOK_PATH)
    yield server
    stripe_emulator.send_webhooks_to(BLACKHOLE_URL)
    server.stop()


PASSWORD = "violet-harbour-lantern-42"


@pytest.fixture
def make_user(app):
    """Create an account (a guest when password is None); return its id."""
    def factory(email: str = "sam@example.com", name: str = "Sam Student", *,
                staff: bool = False, password: str | None = PASSWORD) -> int:
        with app.app_context():
            user = User(email=email, name=name, is_staff=staff,
                        password_hash=hash_password(password) if password else None)
            db.session.add(user)
            db.session.flush()
            ledger.open_balance(user)
            db.session.commit()
            return user.id

    return factory


def csrf_token(client, url: str = "/account/login") -> str:
    """The CSRF token a page gives this client: by default the login page's, a page that
    posts for anyone (the plans page posts nothing, so an anonymous visitor gets no token
    there); every page of a session gives a token of the same session."""
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def log_in(client, email: str, password: str = PASSWORD):
    """Log in through the login page, as a person would."""
    response = client.post("/account/login", data={
        "csrf_token": csrf_token(client, "/account/login"), "email": email,
        "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


@pytest.fixture
def staff(app, make_user):
    """A staff member's browser, logged in."""
    make_user("staff@example.com", "Staff Member", staff=True)
    client = app.test_client()
    log_in(client, "staff@example.com")
    return client


# --- Browser ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"],
    }


@pytest.fixture
def seeded_with():
    """Seed the default plans through a given app; return the Basic Package's id."""
    from storefront.catalog.services import seed_default_plans
    from storefront.models import PricingPlan

    def seed(app) -> int:
        with app.app_context():
            seed_default_plans()
            db.session.commit()
            return db.session.scalars(
                db.select(PricingPlan.id).where(PricingPlan.name == "Basic Package")).one()

    return seed


# --- Paid purchases ------------------------------------------------------------------------


@pytest.fixture
def buy(app, client, seeded, stripe_emulator):
    """buy(plan_name, email, expires_in=None) -> purchase id, paid and credited."""
    def purchase(plan_name: str, email: str = "sam@example.com",
                 expires_in: timedelta | None = None) -> int:
        started = start_purchase(client, seeded[plan_name], email=email, name="Sam Student")
        intent = pay(stripe_emulator, started["payment_intent_id"])
        payload, headers = signed_event("payment_intent.succeeded", intent)
        assert client.post(WEBHOOK_PATH, data=payload, headers=headers).status_code == 200
        if expires_in is not None:
            with app.app_context():
                lot = db.session.scalars(
                    db.select(Lot).where(Lot.purchase_id == started["transaction_id"])).one()
                lot.expires_at = utcnow() + expires_in
                lot.purchase.expires_at = lot.expires_at
                db.session.commit()
        return started["transaction_id"]

    return purchase


@pytest.fixture
def student_id(app):
    def lookup(email: str = "sam@example.com") -> int:
        with app.app_context():
            return db.session.scalars(db.select(User.id).where(User.email == email)).one()

    return lookup
