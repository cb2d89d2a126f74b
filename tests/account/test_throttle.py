"""Account throttles: keyed on the address accounts are found by, and never a way for a
stranger to lock the owner out."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD, csrf_token

FULL_WIDTH_E = "bob@\uff45xample.com"  # bob@ｅxample.com, the same account as bob@example.com


def login(client, email, password, ip="10.0.0.1"):
    token = csrf_token(client, "/account/login")
    return client.post("/account/login", environ_base={"REMOTE_ADDR": ip}, data={
        "csrf_token": token, "email": email, "password": password}).status_code


@pytest.mark.parametrize("spelling", [FULL_WIDTH_E, "BOB@example.COM", " bob@example.com "])
def test_login_throttle_counts_every_spelling_of_an_address(make_app, make_user, spelling):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_IP="100 per hour",
                   RATELIMIT_LOGIN_EMAIL="3 per hour", RATELIMIT_LOGIN_EMAIL_IP="3 per hour")
    make_user("bob@example.com")
    client = app.test_client()
    assert [login(client, "bob@example.com", "wrong-wrong-wrong") for _ in range(3)] == [400] * 3
    assert login(client, spelling, PASSWORD) == 429
    assert client.get("/account").status_code == 302  # not logged in


def forgot(client, email, ip="10.0.0.1"):
    """Ask for a password link; the response."""
    return client.post("/account/password/forgot", environ_base={"REMOTE_ADDR": ip}, data={
        "csrf_token": csrf_token(client, "/account/password/forgot"), "email": email})


def page_text(response) -> str:
    """The page without its per-session CSRF tokens."""
    return re.sub(r'(content|value)="[^"]*"', "", response.get_data(as_text=True))


def test_reset_mail_cap_counts_every_spelling_of_an_address(make_app, make_user, mailbox):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_RESET_EMAIL="2 per hour")
    make_user("bob@example.com")
    client = app.test_client()
    statuses = [forgot(client, spelling).status_code
                for spelling in ("bob@example.com", "BOB@example.com", FULL_WIDTH_E)]
    assert statuses == [200, 200, 200]
    assert len(mailbox.to("bob@example.com")) == 2


def test_strangers_asking_for_resets_never_lock_the_owner_out(make_app, make_user, mailbox):
    app = make_app(RATELIMIT_ENABLED=True)  # the default limits: 3 reset emails an hour
    make_user("bob@example.com")
    stranger, bob = app.test_client(), app.test_client()
    first = forgot(stranger, "bob@example.com", ip="198.51.100.7")
    assert [forgot(stranger, "bob@example.com", ip="198.51.100.7").status_code
            for _ in range(2)] == [200, 200]

    own = forgot(bob, "bob@example.com", ip="203.0.113.20")
    assert own.status_code == 200
    assert page_text(own) == page_text(first)  # nothing tells the cap was reached
    assert len(mailbox.to("bob@example.com")) == 3  # but no fourth email went out
    assert forgot(bob, "other@example.com", ip="203.0.113.20").status_code == 200


def test_one_address_asking_for_many_resets_is_refused(make_app, make_user, mailbox):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_RESET_IP="3 per hour")
    make_user("bob@example.com")
    client = app.test_client()
    statuses = [forgot(client, f"user{n}@example.com").status_code for n in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_invalid_addresses_are_still_counted(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_IP="100 per hour",
                   RATELIMIT_LOGIN_EMAIL="2 per hour", RATELIMIT_LOGIN_EMAIL_IP="2 per hour")
    client = app.test_client()
    assert [login(client, "not an address", "x") for _ in range(3)] == [400, 400, 429]


def test_failures_from_one_address_do_not_lock_the_owner_out(make_app, make_user):
    app = make_app(RATELIMIT_ENABLED=True)  # the default limits
    make_user("bob@example.com")
    attacker = app.test_client()
    statuses = [login(attacker, "bob@example.com", f"guess-{n}-guess", ip="198.51.100.7")
                for n in range(50)]
    assert statuses[0] == 400 and statuses[-1] == 429  # the guesser is slowed down

    owner = app.test_client()
    assert login(owner, "bob@example.com", PASSWORD, ip="203.0.113.20") == 302
    assert owner.get("/account").status_code == 200


def test_only_failed_logins_count(make_app, make_user):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_IP="100 per hour",
                   RATELIMIT_LOGIN_EMAIL="3 per hour", RATELIMIT_LOGIN_EMAIL_IP="3 per hour")
    make_user("bob@example.com")
    statuses = [login(app.test_client(), "bob@example.com", PASSWORD) for _ in range(5)]
    assert statuses == [302] * 5


def test_failures_for_one_email_from_many_addresses_back_off_globally(make_app, make_user):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_EMAIL="20 per hour",
                   RATELIMIT_LOGIN_EMAIL_IP="5 per hour")
    make_user("bob@example.com")
    client = app.test_client()
    statuses = [login(client, "bob@example.com", "wrong-wrong-wrong", ip=f"10.1.{n}.1")
                for n in range(20)]
    assert statuses == [400] * 20
    assert login(client, "bob@example.com", PASSWORD, ip="10.2.0.1") == 429
    assert login(client, "other@example.com", PASSWORD, ip="10.2.0.1") == 400


def test_one_ipv6_network_shares_a_per_client_limit(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_RESET_IP="2 per hour")
    client = app.test_client()
    same_64 = ["2001:db8:5:6::1", "2001:db8:5:6:ffff:ffff:ffff:fffe", "2001:db8:5:6:a::9"]
    assert [forgot(client, f"user{n}@example.com", ip=ip).status_code
            for n, ip in enumerate(same_64)] == [200, 200, 429]
    assert forgot(client, "next@example.com", ip="2001:db8:5:7::1").status_code == 200
    # IPv4 addresses are still counted one by one.
    assert [forgot(client, "v4@example.com", ip=f"192.0.2.{n}").status_code
            for n in range(1, 4)] == [200, 200, 200]


def test_one_ipv6_network_shares_the_login_limit(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_IP="2 per hour")
    client = app.test_client()
    statuses = [login(client, f"user{n}@example.com", "x", ip=f"2001:db8:9:9::{n + 1:x}")
                for n in range(3)]
    assert statuses == [400, 400, 429]
