"""The visitor's currency: from the browser's languages until they pick one (then from the
session), only among currencies the plans are priced in, and cached correctly: a visitor
who never chose gets a public page, no cookie, an ETag naming the currency and
Vary: Accept-Language; one who chose gets a private page that varies on the cookie."""

from __future__ import annotations

import re

import pytest

from storefront.extensions import db
from storefront.models import PlanPrice, Purchase

ORIGIN = {"Origin": "http://localhost"}


def text_of(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def choose(client, currency: str, next_url: str = "/", headers=ORIGIN):
    return client.post("/currency", data={"currency": currency, "next": next_url},
                       headers=headers)


@pytest.mark.parametrize(("languages", "price"), [
    ("en-US,en;q=0.9", "US$82.00"),
    ("en-GB,en;q=0.8", "£65.00"),
    ("ja,en;q=0.5", "JP¥12,000"),
    ("pt-BR,pt;q=0.9", "€75.00"),  # no price in reais: euros
    ("de-CH", "€75.00"),  # no price in francs
    ("fr-FR,fr", "€75.00"),
    ("", "€75.00"),
])
def test_the_browsers_languages_pick_the_currency(client, priced, languages, price):
    response = client.get("/", headers={"Accept-Language": languages})
    card = re.search(rf'data-plan-id="{priced["Basic Package"]}".*?</article>',
                     response.get_data(as_text=True), re.S).group(0)
    assert price in card


def test_a_configured_default_currency_applies_when_the_languages_name_none(
        make_app, seeded_with):
    app = make_app(DEFAULT_CURRENCY="usd")
    basic = seeded_with(app)
    with app.app_context():
        db.session.add(PlanPrice(plan_id=basic, currency="usd", amount_minor=8200))
        db.session.commit()
    client = app.test_client()
    assert "US$82.00" in text_of(client.get("/", headers={"Accept-Language": "en"}))
    assert "£" not in text_of(client.get("/", headers={"Accept-Language": "en-GB"}))


def test_an_anonymous_page_stays_public_and_its_etag_names_the_currency(client, priced):
    dollars = client.get("/", headers={"Accept-Language": "en-US"})
    pounds = client.get("/", headers={"Accept-Language": "en-GB"})
    for response in (dollars, pounds):
        assert "Set-Cookie" not in response.headers
        assert response.cache_control.public and response.cache_control.must_revalidate
        assert "accept-language" in {value.lower() for value in response.vary}
        assert "cookie" not in {value.lower() for value in response.vary}
    assert dollars.headers["ETag"] != pounds.headers["ETag"]
    again = client.get("/", headers={"Accept-Language": "en-US",
                                     "If-None-Match": dollars.headers["ETag"]})
    assert again.status_code == 304 and "Accept-Language" in again.headers["Vary"]
    # A cache that sends the dollar page's tag for a British visitor gets the pound page.
    other = client.get("/", headers={"Accept-Language": "en-GB",
                                     "If-None-Match": dollars.headers["ETag"]})
    assert other.status_code == 200 and "£65.00" in text_of(other)


def test_a_chosen_currency_is_remembered_and_its_page_is_private(client, priced):
    anonymous = client.get("/", headers={"Accept-Language": "en-US"})
    chosen = choose(client, "JPY")
    assert chosen.status_code == 303 and chosen.headers["Location"] == "/"
    assert "Set-Cookie" in chosen.headers
    page = client.get("/", headers={"Accept-Language": "en-US",
                                    "If-None-Match": anonymous.headers["ETag"]})
    assert page.status_code == 200
    assert "JP¥12,000" in text_of(page) and "US$82.00" not in text_of(page)
    assert not page.cache_control.public and page.cache_control.private
    assert "cookie" in {value.lower() for value in page.vary}
    assert page.headers["ETag"] != anonymous.headers["ETag"]
    # Plans without a yen price are shown in euros, and the page says so.
    assert "Plans without a price in JPY are shown, and sold, in euros." in text_of(page)
    assert "€140.00" in text_of(page)
    selected = re.search(r'<option value="jpy" selected>', page.get_data(as_text=True))
    assert selected


def test_the_picker_offers_only_currencies_some_plan_is_priced_in(client, priced):
    html = client.get("/").get_data(as_text=True)
    assert re.findall(r'<option value="(\w+)"', html) == ["eur", "usd", "gbp", "jpy"]
    assert 'action="/currency"' in html and 'name="csrf-token"' not in html


def test_a_single_currency_shop_shows_no_picker(client, seeded):
    assert 'action="/currency"' not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("headers", [
    {}, {"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"},
])
def test_a_currency_choice_from_another_site_is_refused(client, priced, headers):
    response = choose(client, "usd", headers=headers)
    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers


def test_an_unknown_currency_or_a_foreign_next_is_refused(client, priced):
    assert choose(client, "xyz").status_code == 400
    away = choose(client, "usd", next_url="//evil.example/")
    assert away.status_code == 303 and away.headers["Location"] == "/"
    same_site = choose(client, "usd", headers={"Sec-Fetch-Site": "same-origin"})
    assert same_site.status_code == 303


def test_a_new_price_changes_the_etag_of_that_currencys_page_at_once(app, client, priced):
    before = client.get("/", headers={"Accept-Language": "en-US"})
    with app.app_context():
        price = db.session.scalars(db.select(PlanPrice).where(
            PlanPrice.plan_id == priced["Basic Package"], PlanPrice.currency == "usd")).one()
        price.amount_minor = 8900
        db.session.commit()
    after = client.get("/", headers={"Accept-Language": "en-US",
                                     "If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and "US$89.00" in text_of(after)
    assert client.get("/api/finances/api/pricing-plans/").get_json()[0]["prices"]["usd"] == \
        "89.00"


def test_the_checkout_page_sells_in_the_chosen_currency(app, client, priced, stripe_emulator):
    choose(client, "usd")
    url = f"/checkout/{priced['Basic Package']}"
    page = client.get(url)
    assert "US$82.00" in text_of(page) and 'action="/currency"' in page.get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"',
                      page.get_data(as_text=True)).group(1)
    started = client.post(url, data={"csrf_token": token, "name": "Sam Student",
                                     "email": "sam@example.com"})
    assert started.status_code == 302
    with app.app_context():
        purchase = db.session.scalars(db.select(Purchase)).one()
        assert (purchase.price_minor, purchase.currency) == (8200, "usd")
    intent = stripe_emulator.client().v1.payment_intents.retrieve(purchase.payment_intent_id)
    assert (intent.amount, intent.currency) == (8200, "usd")
    pay_page = text_of(client.get(started.headers["Location"]))
    assert "Pay US$82.00" in pay_page
    # A plan without a dollar price is sold in euros.
    assert "€260.00" in text_of(client.get(f"/checkout/{priced['Premium Package']}"))
