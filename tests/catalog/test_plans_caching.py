"""The plans page and the pricing-plans API as browsers and proxies see them: no session or
cookie for an anonymous visitor, a strong ETag that changes the moment a plan changes, a 304
without a body when nothing changed, and nothing shared-cacheable for a logged-in visitor."""

from __future__ import annotations

import re

import pytest

from tests.conftest import csrf_token, log_in

PLANS_URL = "/api/finances/api/pricing-plans/"
PUBLIC_URLS = ("/", PLANS_URL)


def _varies_on_cookie(response) -> bool:
    return "cookie" in {value.lower() for value in response.vary}


def _publicly_cacheable_with_revalidation(response) -> bool:
    control = response.cache_control
    return bool(control.public and control.max_age == 0 and control.must_revalidate)


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_an_anonymous_visit_sets_no_cookie_and_is_cacheable(client, seeded, url):
    response = client.get(url)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert not _varies_on_cookie(response)
    etag, weak = response.get_etag()
    assert etag and not weak
    assert _publicly_cacheable_with_revalidation(response)
    assert client.get_cookie("session") is None


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_the_etag_is_stable_and_a_matching_revalidation_is_a_bodyless_304(
        client, seeded, url):
    first = client.get(url)
    assert client.get(url).headers["ETag"] == first.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert _publicly_cacheable_with_revalidation(again)
    assert "Set-Cookie" not in again.headers
    # A proxy that compresses may weaken the tag: If-None-Match compares weakly.
    weakened = client.get(url, headers={"If-None-Match": "W/" + first.headers["ETag"]})
    assert weakened.status_code == 304
    stale = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.get_data()


def test_a_staff_edit_changes_the_etag_and_the_page_shows_the_new_price(
        client, staff, seeded):
    page, prices = client.get("/"), client.get(PLANS_URL)
    assert "€75.00" in page.get_data(as_text=True)
    basic = seeded["Basic Package"]
    edited = staff.post(f"/staff/plans/{basic}", data={
        "csrf_token": csrf_token(staff), "name": "Basic Package", "description": "Five hours",
        "plan_type": "package", "hours_included": "5", "price": "82.50",
        "validity_days": "30", "display_order": "1", "is_active": "y"})
    assert edited.status_code == 302, edited.get_data(as_text=True)

    fresh = client.get("/", headers={"If-None-Match": page.headers["ETag"]})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != page.headers["ETag"]
    assert "€82.50" in fresh.get_data(as_text=True)
    assert "€75.00" not in fresh.get_data(as_text=True)
    fresh_prices = client.get(PLANS_URL, headers={"If-None-Match": prices.headers["ETag"]})
    assert fresh_prices.status_code == 200
    assert fresh_prices.headers["ETag"] != prices.headers["ETag"]
    assert fresh_prices.get_json()[0]["price_eur"] == "82.50"


def test_the_page_and_the_api_have_different_etags(client, seeded):
    assert client.get("/").headers["ETag"] != client.get(PLANS_URL).headers["ETag"]


def test_test_mode_and_locale_are_part_of_the_etag(make_app, seeded):
    emulator = make_app().test_client().get("/")
    german = make_app(BABEL_LOCALE="de_DE").test_client().get("/")
    real = make_app(STRIPE_API_BASE=None, STRIPE_SECRET_KEY="sk_test_51Real",
                    STRIPE_PUBLISHABLE_KEY="pk_test_51Real").test_client().get("/")
    assert "Test mode" in emulator.get_data(as_text=True)
    assert "Test mode" not in real.get_data(as_text=True)
    assert "75,00" in german.get_data(as_text=True)
    assert len({emulator.headers["ETag"], german.headers["ETag"], real.headers["ETag"]}) == 3


def test_a_logged_in_visitor_gets_a_private_page_never_a_shared_304(
        client, seeded, make_user):
    anonymous_etag = client.get("/").headers["ETag"]
    make_user("sam@example.com")
    log_in(client, "sam@example.com")
    response = client.get("/", headers={"If-None-Match": anonymous_etag})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Log out" in html
    assert not response.cache_control.public and response.cache_control.private
    assert response.headers.get("ETag") != anonymous_etag
    # The logout form on every page needs the token.
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', html)


def test_a_message_for_the_visitor_is_shown_not_revalidated(client, seeded, make_user):
    etag = client.get("/").headers["ETag"]
    make_user("sam@example.com")
    log_in(client, "sam@example.com")
    logged_out = client.post("/account/logout", data={"csrf_token": csrf_token(client)})
    assert logged_out.headers["Location"] == "/"
    response = client.get("/", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert "You are logged out." in response.get_data(as_text=True)
    assert not response.cache_control.public


def test_the_plans_page_has_no_token_but_the_checkout_page_has(client, seeded):
    plans = client.get("/").get_data(as_text=True)
    assert 'name="csrf-token"' not in plans
    checkout = client.get(f"/checkout/{seeded['Basic Package']}")
    assert re.search(r'<meta name="csrf-token" content="[^"]+">',
                     checkout.get_data(as_text=True))
    assert "Set-Cookie" in checkout.headers  # the form's token lives in the session


@pytest.mark.parametrize("url", ["/no-such-page", "/account/password/reset/not-a-real-token"])
def test_other_pages_without_a_form_set_no_cookie_either(client, seeded, url):
    response = client.get(url)
    assert "Set-Cookie" not in response.headers
    assert 'name="csrf-token"' not in response.get_data(as_text=True)


def test_the_api_document_describes_the_revalidation(client):
    operation = client.get("/api/finances/api/schema/").get_json()["paths"][PLANS_URL]["get"]
    assert {"name": "If-None-Match", "in": "header"}.items() <= operation["parameters"][0].items()
    for status in ("200", "304"):
        assert {"ETag", "Cache-Control"} <= set(operation["responses"][status]["headers"])
    assert "content" not in operation["responses"]["304"]
