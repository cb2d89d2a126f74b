"""Account throttles: keyed on the address accounts are found by, and never a way for a
stranger to lock the owner out."""

from __future__ import annotations

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


def test_reset_throttle_counts_every_spelling_of_an_address(make_app, make_user, mailbox):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_RESET_EMAIL="2 per hour")
    make_user("bob@example.com")
    client = app.test_client()

    def forgot(email):
        return client.post("/account/password/forgot", data={
            "csrf_token": csrf_token(client, "/account/password/forgot"),
            "email": email}).status_code

    assert [forgot("bob@example.com"), forgot("bob@example.com"), forgot(FULL_WIDTH_E)] == [
        200, 200, 429]
    assert len(mailbox.to("bob@example.com")) == 2


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
