"""Money, hours and dates for people follow BABEL_LOCALE: the default (en_IE) reads exactly as
the pages always did, and Portuguese (pt_PT) gets its own decimal comma, currency placement and
month names, while the words stay English."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storefront.extensions import db
from storefront.formatting import (
    date_display,
    date_long_display,
    datetime_display,
    datetime_long_display,
    datetime_seconds_display,
    day_time_display,
    hours_decimal_display,
    hours_display,
)
from storefront.models import Purchase
from tests.conftest import log_in

MOMENTS = [datetime(2026, 3, 5, 14, 7, 9, tzinfo=UTC), datetime(2026, 12, 31, 0, 0, 0),
           datetime(2027, 1, 1, 23, 59, 59, tzinfo=UTC), datetime(2026, 9, 10, 9, 5, 1)]


def _irish(moment: datetime, pattern: str) -> str:
    """strftime's English, with Irish (and British) English's "Sept" for September."""
    return moment.strftime(pattern).replace("Sep ", "Sept ")


@pytest.mark.parametrize("moment", MOMENTS)
def test_english_dates_read_as_before(moment):
    assert date_display(moment) == _irish(moment, "%-d %b %Y")
    assert date_long_display(moment) == moment.strftime("%-d %B %Y")
    assert datetime_display(moment) == _irish(moment, "%-d %b %Y %H:%M")
    assert datetime_seconds_display(moment) == _irish(moment, "%-d %b %Y %H:%M:%S")
    assert datetime_long_display(moment) == moment.strftime("%-d %B %Y, %H:%M")
    assert day_time_display(moment) == _irish(moment, "%-d %b %H:%M:%S")


def test_portuguese_dates():
    moment = MOMENTS[0]
    assert date_long_display(moment, "pt_PT") == "5 de março de 2026"
    assert date_display(moment, "pt_PT") == "05/03/2026"
    assert datetime_long_display(moment, "pt_PT") == "5 de março de 2026, 14:07"


@pytest.mark.parametrize(("minutes", "english", "portuguese"), [
    (60, "1 hour", "1 hour"), (90, "1.5 hours", "1,5 hours"), (300, "5 hours", "5 hours"),
    (100, "1.67 hours", "1,67 hours"), (6000, "100 hours", "100 hours")])
def test_hours_in_each_locale(minutes, english, portuguese):
    assert hours_display(minutes) == english
    assert hours_display(minutes, "pt_PT") == portuguese


def test_hours_with_two_decimals_in_each_locale():
    assert hours_decimal_display(90) == "1.50"
    assert hours_decimal_display(90, "pt_PT") == "1,50"
    assert hours_decimal_display(-30) == "-0.50"


@pytest.fixture
def app(make_app):
    """A Portuguese school's storefront (the tests above need no app)."""
    return make_app(BABEL_LOCALE="pt_PT")


def test_a_portuguese_receipt(app, client, buy, make_user):
    make_user("sam@example.com")
    purchase_id = buy("Basic Package", email="sam@example.com")
    log_in(client, "sam@example.com")
    html = client.get(f"/account/purchases/{purchase_id}").get_data(as_text=True)
    with app.app_context():
        purchase = db.session.get(Purchase, purchase_id)
        paid_on = datetime_long_display(purchase.paid_at, "pt_PT")
        valid_until = date_long_display(purchase.expires_at, "pt_PT")
    assert " de " in valid_until
    assert f">{paid_on} UTC</time>" in html
    assert f">{valid_until}</time>" in html
    assert "75,00\xa0€" in html and "5 hours" in html
