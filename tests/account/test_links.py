"""Claim and reset links: bound to a secret of the account, single use, unforgeable with the
app's key alone."""

from __future__ import annotations

import hashlib

from itsdangerous import URLSafeTimedSerializer

from storefront.extensions import db
from storefront.models import User
from tests.conftest import PASSWORD, csrf_token, log_in

NEW_PASSWORD = "quiet-meadow-copper-77"
OTHER_PASSWORD = "amber-falcon-river-19"


def post_form(client, url, **fields):
    return client.post(url, data={"csrf_token": csrf_token(client, url), **fields})


def password_hash(app, email):
    with app.app_context():
        return db.session.scalars(db.select(User.password_hash)
                                  .where(User.email == email)).one()


def emailed_path(mailbox, email) -> str:
    return mailbox.last_link(email).split("localhost", 1)[1]


def test_a_claim_link_forged_with_the_secret_key_is_refused(app, client, make_user):
    guest_id = make_user("alice@example.com", password=None)
    constant = hashlib.sha256(b"no-password").hexdigest()[:16]
    forged = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="account-claim").dumps(
        {"uid": guest_id, "fp": constant})
    path = f"/account/claim/{forged}"

    assert client.get(path).status_code == 400
    taken = client.post(path, data={"csrf_token": csrf_token(client), "password": NEW_PASSWORD,
                                    "confirm": NEW_PASSWORD})
    assert taken.status_code == 400
    assert password_hash(app, "alice@example.com") is None
    assert client.get("/account").status_code == 302  # nobody is logged in


def test_a_real_claim_link_works_once(app, client, make_user, mailbox):
    make_user("alice@example.com", password=None)
    post_form(client, "/account/password/forgot", email="alice@example.com")
    path = emailed_path(mailbox, "alice@example.com")
    assert path.startswith("/account/claim/")

    assert client.get(path).status_code == 200
    assert post_form(client, path, password=NEW_PASSWORD,
                     confirm=NEW_PASSWORD).status_code == 302
    other = app.test_client()
    assert other.get(path).status_code == 400
    # The used link's page has no form (and no token): post with the session's own token.
    again = other.post(path, data={"csrf_token": csrf_token(other), "password": OTHER_PASSWORD,
                                   "confirm": OTHER_PASSWORD})
    assert again.status_code == 400
    log_in(app.test_client(), "alice@example.com", NEW_PASSWORD)


def test_a_reset_link_dies_when_the_password_is_changed_while_logged_in(app, client,
                                                                         make_user, mailbox):
    make_user("sam@example.com")
    post_form(client, "/account/password/forgot", email="sam@example.com")
    path = emailed_path(mailbox, "sam@example.com")
    log_in(client, "sam@example.com")
    changed = post_form(client, "/account/password", current_password=PASSWORD,
                        password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert changed.status_code == 302
    assert app.test_client().get(path).status_code == 400
