"""Fixtures shared by the webhook tests."""

from __future__ import annotations

import pytest

from tests.support import pay, start_purchase


@pytest.fixture
def paid(client, seeded, stripe_emulator):
    """A guest purchase of the Basic Package, paid at the emulator (no event delivered)."""
    started = start_purchase(client, seeded["Basic Package"])
    intent = pay(stripe_emulator, started["payment_intent_id"])
    assert intent["status"] == "succeeded"
    return started["transaction_id"], intent
