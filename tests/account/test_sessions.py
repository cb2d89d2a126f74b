"""Login sessions survive a change of network; changing the password asks for the current one."""

from __future__ import annotations

from tests.conftest import PASSWORD, csrf_token, log_in

NEW_PASSWORD = "quiet-meadow-copper-77"


def change_password(client, current, new, confirm=None):
    return client.post("/account/password", data={
        "csrf_token": csrf_token(client, "/account/password"), "current_password": current,
        "password": new, "confirm": new if confirm is None else confirm})


def test_session_survives_a_change_of_network_and_browser_string(client, make_user):
    make_user("sam@example.com")
    log_in(client, "sam@example.com")
    moved = client.get("/account", environ_base={"REMOTE_ADDR": "100.64.12.34"},
                       headers={"User-Agent": "Mozilla/5.0 (Linux; Android 14) Mobile"})
    assert moved.status_code == 200
    assert client.get("/account").status_code == 200


def test_change_password_page_needs_a_login(client):
    response = client.get("/account/password")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


def test_change_password_requires_the_current_password(app, client, make_user):
    make_user("sam@example.com")
    log_in(client, "sam@example.com")
    assert client.get("/account/password").status_code == 200
    wrong = change_password(client, "not-my-password", NEW_PASSWORD)
    assert wrong.status_code == 400
    assert "current password is not right" in wrong.get_data(as_text=True)
    log_in(app.test_client(), "sam@example.com", PASSWORD)  # unchanged


def test_change_password_checks_the_new_one(client, make_user):
    make_user("sam@example.com")
    log_in(client, "sam@example.com")
    assert change_password(client, PASSWORD, "password123").status_code == 400
    assert change_password(client, PASSWORD, NEW_PASSWORD, "different-1234").status_code == 400


def test_change_password_ends_other_sessions_and_keeps_this_one(app, client, make_user):
    make_user("sam@example.com")
    other_device = app.test_client()
    log_in(other_device, "sam@example.com")
    log_in(client, "sam@example.com")
    done = change_password(client, PASSWORD, NEW_PASSWORD)
    assert done.status_code == 302 and done.headers["Location"] == "/account"
    assert client.get("/account").status_code == 200
    assert other_device.get("/account").status_code == 302
    fresh = app.test_client()
    failed = fresh.post("/account/login", data={
        "csrf_token": csrf_token(fresh, "/account/login"), "email": "sam@example.com",
        "password": PASSWORD})
    assert failed.status_code == 400
    log_in(fresh, "sam@example.com", NEW_PASSWORD)
