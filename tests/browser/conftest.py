"""Browser tests run in Debian's Chromium; with CI=true a missing browser is a failure. Every
page stays on this machine: a request to any other address fails the test."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.conftest import CHROMIUM


@pytest.fixture(autouse=True)
def _chromium_present():
    if CHROMIUM is None:
        pytest.fail("CI=true and Chromium is missing: apt-get install chromium")


class Offsite:
    """Requests a test's pages made to an address outside 127.0.0.1; `allow` names a host a
    test serves itself (page.route) so nothing leaves the machine."""

    def __init__(self) -> None:
        self.allowed: set[str] = set()
        self.requested: list[str] = []

    def allow(self, host: str) -> None:
        self.allowed.add(host)

    def seen(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about", "chrome-error"):
            return
        if parts.hostname not in ("127.0.0.1", *self.allowed):
            self.requested.append(url)


@pytest.fixture(autouse=True)
def offsite(request):
    """Fails the test when one of its pages asked for an address outside 127.0.0.1."""
    guard = Offsite()
    if "context" in request.fixturenames or "page" in request.fixturenames:
        request.getfixturevalue("context").on("request", lambda r: guard.seen(r.url))
    yield guard
    assert guard.requested == [], f"pages requested addresses off this machine: {guard.requested}"


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A phone-sized window: most students buy on their phones."""
    return {**browser_context_args, "viewport": {"width": 390, "height": 844},
            "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="session")
def base_url():
    """Pages are addressed through the live_server fixture's URL, not a fixed base URL."""
    return None
