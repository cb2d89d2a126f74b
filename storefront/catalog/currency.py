"""The visitor's currency: the one they chose (kept in the session), else the one their
browser's languages suggest (Accept-Language), else DEFAULT_CURRENCY; always one that some
plan on sale is priced in.

Only a choice writes the session: a visitor who never chose gets the public, cacheable plans
page, whose ETag names the currency and which varies on Accept-Language.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import current_app, request, session
from werkzeug.http import parse_accept_header

from storefront.money import BASE_CURRENCY, CURRENCIES

SESSION_KEY = "currency"

# Regions whose own currency we sell in; a language alone names one only for Japanese.
_REGION_CURRENCY = {"US": "usd", "GB": "gbp", "UK": "gbp", "BR": "brl", "CH": "chf",
                    "LI": "chf", "JP": "jpy"}
_EURO_REGIONS = frozenset({"AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE",
                           "IT", "LT", "LU", "LV", "MT", "NL", "PT", "SI", "SK"})
_LANGUAGE_CURRENCY = {"ja": "jpy"}


def currency_from_languages(header_values: Iterable[str]) -> str | None:
    """The currency of the first preferred language that names one: en-US -> usd, en-GB ->
    gbp, pt-BR -> brl, de-CH and fr-CH -> chf, ja -> jpy, de-DE -> eur; else None."""
    for tag in header_values:
        language, _, region = tag.replace("_", "-").partition("-")
        region = region.split("-")[-1].upper() if region else ""
        if region in _REGION_CURRENCY:
            return _REGION_CURRENCY[region]
        if region in _EURO_REGIONS:
            return BASE_CURRENCY
        if language.lower() in _LANGUAGE_CURRENCY:
            return _LANGUAGE_CURRENCY[language.lower()]
    return None


@functools.lru_cache(maxsize=512)
def _currency_of_header(header: str) -> str | None:
    """currency_from_languages for a raw Accept-Language header, parsed once per distinct
    header (browsers send a handful of them; this runs on every plans page)."""
    return currency_from_languages(value for value, _ in parse_accept_header(header))


def chosen_currency() -> str | None:
    """The currency this visitor chose, if any (reading never creates a session)."""
    code = session.get(SESSION_KEY)
    return code if code in CURRENCIES else None


def visitor_currency(offered: Iterable[str]) -> str:
    """The currency to show prices in, among `offered` (euros are always offered)."""
    offered = set(offered) | {BASE_CURRENCY}
    for code in (chosen_currency(),
                 _currency_of_header(request.headers.get("Accept-Language", "")),
                 current_app.config.get("DEFAULT_CURRENCY", BASE_CURRENCY)):
        if code in offered:
            return code
    return BASE_CURRENCY


def offered_currencies(currency_lists: Iterable[Iterable[str]]) -> tuple[str, ...]:
    """Every currency some of the plans are priced in, in the shop's order."""
    seen = {code for codes in currency_lists for code in codes} | {BASE_CURRENCY}
    return tuple(code for code in CURRENCIES if code in seen)


def same_origin_post() -> bool:
    """Whether this POST comes from one of our own pages (Fetch Metadata, else Origin, else
    Referer): the currency form carries no CSRF token, so that the plans page needs no
    session."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return False
    parts = urlsplit(source)
    return f"{parts.scheme}://{parts.netloc}" == request.host_url.rstrip("/")
