"""Registration, login, logout, password reset, throttling, enumeration and redirects."""

from __future__ import annotations

import re

import pytest

from storefront.account.passwords import HASHER
from storefront.extensions import db
from storefront.models import User
from tests.conftest import PASSWORD, csrf_token, log_in

NEW_PASSWORD = "quiet-meadow-copper-77"


def post_form(client, url, **fields):
    return client.post(url, data={"csrf_token": csrf_token(client, url), **fields})


def logged_in(client) -> bool:
    response = client.get("/account")
    return response.status_code == 200


def user(app, email) -> User | None:
    with app.app_context():
        return db.session.scalars(db.select(User).where(User.email == email)).first()


def masked(response) -> str:
    """The page without what legitimately differs between two renders (CSRF tokens)."""
    html = response.get_data(as_text=True)
    html = re.sub(r'content="[^"]+"(?=>)', 'content="TOKEN"', html)
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "CSRF", html)


# --- Registration -------------------------------------------------------------------------

def test_register_confirm_by_email_then_log_in(app, client, mailbox):
    response = post_form(client, "/account/register", name="Nia Okafor",
                         email="Nia@Example.com", password=PASSWORD)
    assert response.status_code == 200 and "Check your email" in response.get_data(as_text=True)
    assert user(app, "nia@example.com") is None  # nothing exists until the link is followed

    link = mailbox.last_link("nia@example.com")
    path = link.split("localhost", 1)[1]
    assert "Confirm your account" in client.get(path).get_data(as_text=True)
    confirmed = post_form(client, path)
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/account"
    assert logged_in(client)
    created = user(app, "nia@example.com")
    assert created.name == "Nia Okafor" and created.password_hash.startswith("$argon2id$")

    again = post_form(app.test_client(), path)
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)


def test_registration_does_not_reveal_existing_accounts(app, client, make_user, mailbox):
    make_user("taken@example.com", "Taken Person")
    fresh = post_form(client, "/account/register", name="A B", email="free@example.com",
                      password=PASSWORD)
    taken = post_form(client, "/account/register", name="A B", email="taken@example.com",
                      password=PASSWORD)
    assert fresh.status_code == taken.status_code == 200
    assert masked(fresh).replace("free@", "X@") == masked(taken).replace("taken@", "X@")
    assert "already have" in mailbox.to("taken@example.com")[-1]["Subject"]
    assert HASHER.verify(user(app, "taken@example.com").password_hash, PASSWORD)


def test_registering_a_guest_email_sends_a_claim_link(app, client, make_user, mailbox):
    make_user("guest@example.com", "Guest Buyer", password=None)
    post_form(client, "/account/register", name="Guest Buyer", email="guest@example.com",
              password=PASSWORD)
    assert "/account/claim/" in mailbox.last_link("guest@example.com")
    assert user(app, "guest@example.com").password_hash is None


@pytest.mark.parametrize(("password", "message"), [
    ("short", "at least 8 characters"),
    ("x" * 129, "at most 128 characters"),
    ("password123", "too common"),
    ("Iloveyou", "too common"),
    ("", "required"),
])
def test_weak_passwords_are_refused(client, mailbox, password, message):
    response = post_form(client, "/account/register", name="Ana", email="ana@example.com",
                         password=password)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert mailbox.messages == []


def test_long_passphrases_without_composition_rules_are_fine(client, mailbox):
    response = post_form(client, "/account/register", name="Ana", email="ana@example.com",
                         password="all lowercase words are fine here")
    assert response.status_code == 200 and len(mailbox.messages) == 1


# --- Login and logout ---------------------------------------------------------------------

def test_login_and_unknown_email_vs_wrong_password_look_the_same(client, make_user):
    make_user("sam@example.com")
    wrong_password = post_form(client, "/account/login", email="sam@example.com",
                               password="not-the-password")
    unknown_email = post_form(client, "/account/login", email="sal@example.com",
                              password="not-the-password")
    assert wrong_password.status_code == unknown_email.status_code == 400
    assert masked(wrong_password).replace("sam@", "X@") == masked(unknown_email).replace(
        "sal@", "X@")
    assert "Incorrect email or password." in wrong_password.get_data(as_text=True)
    assert not logged_in(client)
    log_in(client, "SAM@example.com")
    assert logged_in(client)


def test_guest_account_cannot_log_in_without_a_password(client, make_user):
    make_user("guest@example.com", password=None)
    for guess in ("", "anything-at-all", "None"):
        response = post_form(client, "/account/login", email="guest@example.com",
                             password=guess)
        assert response.status_code == 400 and not logged_in(client)


def test_login_starts_a_fresh_session(client, make_user):
    make_user("sam@example.com")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker before login"
    log_in(client, "sam@example.com")
    with client.session_transaction() as session:
        assert "planted" not in session


def test_logout_ends_the_session_even_for_a_copied_cookie(app, client, make_user):
    make_user("sam@example.com")
    log_in(client, "sam@example.com")
    stolen = client.get_cookie("session").value
    assert client.get("/account/logout").status_code == 405  # GET never logs out
    refused = client.post("/account/logout")  # no CSRF token
    assert refused.status_code == 400 and logged_in(client)

    response = post_form(client, "/account/logout")
    assert response.status_code == 302 and not logged_in(client)
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    answer = replay.get("/account")
    assert answer.status_code == 302 and "/account/login" in answer.headers["Location"]


def test_password_is_rehashed_when_parameters_change(make_app, make_user):
    from argon2 import PasswordHasher

    app = make_app(PASSWORD_HASH_COST="strong")
    client = app.test_client()
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    user_id = make_user("sam@example.com")
    with app.app_context():
        db.session.get(User, user_id).password_hash = weak.hash(PASSWORD)
        db.session.commit()
    log_in(client, "sam@example.com")
    upgraded = user(app, "sam@example.com").password_hash
    assert "m=19456,t=2,p=1" in upgraded and HASHER.verify(upgraded, PASSWORD)


@pytest.mark.parametrize("target", ["//evil.com", "/\\evil.com", "https://evil.com/",
                                    "javascript:alert(1)", "http:/evil.com", "/\t/evil.com"])
def test_next_never_leaves_the_site(client, make_user, target):
    make_user("sam@example.com")
    response = client.post("/account/login", data={
        "csrf_token": csrf_token(client, "/account/login"), "email": "sam@example.com",
        "password": PASSWORD, "next": target})
    assert response.headers["Location"] == "/account"


def test_next_to_a_local_page_is_followed(client, make_user):
    make_user("sam@example.com")
    assert client.get("/account").headers["Location"] == "/account/login?next=/account"
    response = client.post("/account/login?next=/account", data={
        "csrf_token": csrf_token(client, "/account/login"), "email": "sam@example.com",
        "password": PASSWORD, "next": "/checkout/1"})
    assert response.headers["Location"] == "/checkout/1"


# --- Password reset -----------------------------------------------------------------------

def test_password_reset_by_emailed_link(app, client, make_user, mailbox):
    make_user("sam@example.com")
    other_device = app.test_client()
    log_in(other_device, "sam@example.com")

    response = post_form(client, "/account/password/forgot", email="sam@example.com")
    assert "Check your email" in response.get_data(as_text=True)
    path = mailbox.last_link("sam@example.com").split("localhost", 1)[1]
    assert path.startswith("/account/password/reset/")
    mismatch = post_form(client, path, password=NEW_PASSWORD, confirm="something-else-1")
    assert mismatch.status_code == 400 and "do not match" in mismatch.get_data(as_text=True)
    done = post_form(client, path, password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert done.status_code == 302 and logged_in(client)
    assert not logged_in(other_device)  # a new password ends the other sessions

    assert client.get(path).status_code == 400  # single use
    fresh = app.test_client()
    assert post_form(fresh, "/account/login", email="sam@example.com",
                     password=PASSWORD).status_code == 400
    log_in(fresh, "sam@example.com", NEW_PASSWORD)


def test_reset_for_an_unknown_email_looks_the_same_and_sends_nothing(client, make_user,
                                                                     mailbox):
    make_user("sam@example.com")
    known = post_form(client, "/account/password/forgot", email="sam@example.com")
    unknown = post_form(client, "/account/password/forgot", email="who@example.com")
    assert known.status_code == unknown.status_code == 200
    assert masked(known).replace("sam@", "X@") == masked(unknown).replace("who@", "X@")
    assert [m["To"] for m in mailbox.messages] == ["sam@example.com"]


def test_forged_and_expired_links_are_refused(app, client, make_user):
    from itsdangerous import URLSafeTimedSerializer

    make_user("sam@example.com")
    assert client.get("/account/password/reset/not-a-token").status_code == 400
    forged = URLSafeTimedSerializer("wrong-key", salt="account-reset").dumps({"uid": 1})
    assert client.get(f"/account/password/reset/{forged}").status_code == 400
    with app.test_request_context():
        from storefront.account.tokens import make_token

        claim_token = make_token("claim", {"uid": 1, "fp": "x"})
    # A claim token is not a reset token.
    assert client.get(f"/account/password/reset/{claim_token}").status_code == 400


# --- Throttling ---------------------------------------------------------------------------

def test_login_is_throttled_per_email_and_per_ip(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_EMAIL="3 per hour",
                   RATELIMIT_LOGIN_IP="5 per hour")
    client = app.test_client()
    token = csrf_token(client, "/account/login")

    def attempt(email, ip="10.0.0.1"):
        return client.post("/account/login", environ_base={"REMOTE_ADDR": ip}, data={
            "csrf_token": token, "email": email, "password": "guess-guess-guess"}).status_code

    assert [attempt("sam@example.com", f"10.0.0.{n}") for n in range(4)] == [400, 400, 400, 429]
    assert [attempt(f"x{n}@example.com", "10.9.9.9") for n in range(6)] == [400] * 5 + [429]


def test_password_reset_emails_are_capped_silently(make_app, make_user, mailbox):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_RESET_EMAIL="2 per hour")
    make_user("sam@example.com")
    client = app.test_client()
    statuses = [post_form(client, "/account/password/forgot",
                          email="sam@example.com").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert len(mailbox.to("sam@example.com")) == 2


def test_staff_command_creates_a_staff_account(app, runner):
    result = runner.invoke(args=["users", "create-staff", "Boss@Example.com", "--name", "Bo Ss",
                                 "--password", NEW_PASSWORD])
    assert result.exit_code == 0, result.output
    staff = user(app, "boss@example.com")
    assert staff.is_staff and HASHER.verify(staff.password_hash, NEW_PASSWORD)
    weak = runner.invoke(args=["users", "create-staff", "x@example.com", "--password", "123"])
    assert weak.exit_code != 0 and "at least 8" in weak.output


def test_session_cookie_flags(app, client, make_user):
    make_user("sam@example.com")
    response = log_in(client, "sam@example.com")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_emailed_links_ignore_a_forged_host_header(make_app, make_user, mailbox):
    app = make_app(PUBLIC_BASE_URL="https://shop.example.com")
    make_user("sam@example.com")
    client = app.test_client()
    forged = {"Host": "evil.example"}
    page = client.get("/account/password/forgot", headers=forged).get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    sent = client.post("/account/password/forgot", headers=forged,
                       data={"csrf_token": token, "email": "sam@example.com"})
    assert sent.status_code == 200
    link = mailbox.last_link("sam@example.com")
    assert link.startswith("https://shop.example.com/account/password/reset/")


def test_proxy_fix_uses_the_forwarded_client_address(make_app):
    app = make_app(PROXY_FIX_X_FOR=1, RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_IP="1 per hour",
                   RATELIMIT_LOGIN_EMAIL="50 per hour")
    client = app.test_client()
    token = csrf_token(client, "/account/login")

    def attempt(forwarded_for):
        return client.post("/account/login", headers={"X-Forwarded-For": forwarded_for},
                           data={"csrf_token": token, "email": "a@example.com",
                                 "password": "guess-guess-guess"}).status_code

    assert [attempt("203.0.113.1"), attempt("203.0.113.1"), attempt("203.0.113.2")] == [
        400, 429, 400]


def test_registration_link_carries_no_password_hash_and_expires(app, client, mailbox):
    from datetime import timedelta

    from storefront.models import PendingRegistration

    post_form(client, "/account/register", name="Nia", email="nia@example.com",
              password=PASSWORD)
    link = mailbox.last_link("nia@example.com")
    token = link.rsplit("/", 1)[1]
    assert "argon2" not in link and len(token) < 60
    with app.app_context():
        pending = db.session.scalars(db.select(PendingRegistration)).one()
        assert pending.token_hash != token  # only a hash is stored
        pending.created_at -= timedelta(days=3)
        db.session.commit()
    expired = post_form(client, link.split("localhost", 1)[1])
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
    assert user(app, "nia@example.com") is None
