"""Staff see the email the outbox could not deliver yet, without the links it carries."""

from __future__ import annotations

import re
import socket

from tests.conftest import csrf_token, deliver_mail, log_in


def page_text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def forgot_password(client, email: str) -> None:
    client.post("/account/password/forgot", data={
        "csrf_token": csrf_token(client, "/account/password/forgot"), "email": email})


def test_staff_page_lists_undelivered_mail_without_its_links(app, make_app, make_user,
                                                             mailbox):
    make_user("sam@example.com", "Sam Student")
    make_user("kim@example.com", "Kim Student")
    make_user("staff@example.com", "Staff Member", staff=True)
    forgot_password(app.test_client(), "kim@example.com")
    assert len(mailbox.to("kim@example.com")) == 1  # delivered: not listed
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    down = make_app(MAIL_PORT=closed_port)
    forgot_password(down.test_client(), "sam@example.com")
    failed = deliver_mail(down)
    assert failed.exit_code == 1 and "1 failed" in failed.output

    staff = down.test_client()
    log_in(staff, "staff@example.com")
    assert "Undelivered mail" in page_text(staff.get("/staff"))
    page = staff.get("/staff/mail")
    assert page.status_code == 200
    text = page_text(page)
    assert "sam@example.com" in text and "Reset your Storefront password" in text
    assert "Connection refused" in text and "1 attempt" in text
    html = page.get_data(as_text=True)
    assert "/account/password/reset/" not in html  # the body's link is a secret
    assert "kim@example.com" not in text


def test_only_staff_see_the_outbox(client, make_user):
    assert client.get("/staff/mail").headers["Location"].startswith("/account/login")
    make_user("eve@example.com", "Eve Student")
    log_in(client, "eve@example.com")
    assert client.get("/staff/mail").status_code == 403
