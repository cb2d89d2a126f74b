"""Browser tests run in Debian's Chromium; with CI=true a missing browser is a failure."""

from __future__ import annotations

import pytest

from tests.conftest import CHROMIUM


@pytest.fixture(autouse=True)
def _chromium_present():
    if CHROMIUM is None:
        pytest.fail("CI=true and Chromium is missing: apt-get install chromium")


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A phone-sized window: most students buy on their phones."""
    return {**browser_context_args, "viewport": {"width": 390, "height": 844},
            "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="session")
def base_url():
    """Pages are addressed through the live_server fixture's URL, not a fixed base URL."""
    return None
