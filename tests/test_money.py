"""Currencies: each one's exponent (the yen has none), Stripe's minimum charge, exact parsing
of what staff type, and Babel's formatting by the currency's own digits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from storefront.formatting import money_display
from storefront.money import (
    CURRENCIES,
    AmountError,
    amount_text,
    currency_of,
    parse_price,
    to_minor,
)


def test_the_shop_sells_in_six_currencies_and_only_the_yen_has_no_minor_unit():
    assert set(CURRENCIES) == {"eur", "usd", "gbp", "brl", "chf", "jpy"}
    assert {code for code, c in CURRENCIES.items() if c.exponent == 0} == {"jpy"}
    assert currency_of("JPY").exponent == 0 and currency_of("usd").exponent == 2


@pytest.mark.parametrize(("code", "text", "minor"), [
    ("eur", "75", 7500), ("eur", "75.5", 7550), ("usd", "82.00", 8200), ("gbp", "0.30", 30),
    ("chf", ".50", 50), ("brl", "399.90", 39990), ("jpy", "12000", 12000), ("jpy", "50", 50),
    ("jpy", "12000.00", 12000),
])
def test_a_typed_price_becomes_exact_minor_units_by_the_currency_exponent(code, text, minor):
    assert parse_price(text, code) == minor
    assert parse_price(Decimal(text), code) == minor


@pytest.mark.parametrize(("code", "text", "message"), [
    ("jpy", "12.5", "JPY has no decimals"),
    ("eur", "1.005", "EUR has at most 2 decimals"),
    ("eur", "0.49", "from 0.50 to 10000.00"),
    ("gbp", "0.29", "from 0.30 to 10000.00"),
    ("jpy", "49", "from 50 to 1000000"),
    ("usd", "10000.01", "from 0.50 to 10000.00"),
    ("jpy", "1000001", "from 50 to 1000000"),
    ("usd", "-5", "Enter an amount such as 82.50."),
    ("usd", "1e3", "Enter an amount such as 82.50."),
    ("jpy", "twelve", "Enter an amount such as 12000."),
])
def test_prices_out_of_range_or_with_too_many_decimals_are_refused(code, text, message):
    with pytest.raises(AmountError, match=message):
        parse_price(text, code)


def test_stripe_minimums_are_accepted_exactly():
    assert [parse_price(currency.minimum_minor and amount_text(currency.minimum_minor, code),
                        code) for code, currency in CURRENCIES.items()] == [
        50, 50, 30, 50, 50, 50]


def test_amount_text_follows_the_exponent():
    assert amount_text(7500, "eur") == "75.00"
    assert amount_text(12000, "jpy") == "12000"
    assert amount_text(5, "usd") == "0.05"
    assert to_minor("0.05", "usd") == 5


def test_money_for_people_uses_the_currency_digits_and_the_locale():
    assert money_display(7500, "eur", "en_IE") == "€75.00"
    assert money_display(8200, "usd", "en_US") == "$82.00"
    assert money_display(8200, "usd", "en_IE") == "US$82.00"
    assert money_display(12000, "jpy", "en_IE") == "JP¥12,000"
    assert money_display(12000, "jpy", "ja_JP") == "￥12,000"
    assert money_display(39990, "brl", "pt_PT") == "399,90\xa0R$"
    assert money_display(6950, "gbp", "en_GB") == "£69.50"
    assert money_display(8200, "chf", "de_CH") == "CHF\xa082.00"
