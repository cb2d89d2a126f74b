"""Email: rendered into the outbox with the change that causes it, sent later by the worker.

`queue_mail` adds an outbox row to the current transaction, so a rolled-back request leaves
no mail about something that did not happen, and a committed one cannot lose its mail. The
mail worker (storefront/outbox.py, `flask mail deliver`) sends rows through `MailSender`:
SMTP, or without MAIL_SERVER (development) the log and files under instance/outbox/.
"""

from __future__ import annotations

import logging
import os
import smtplib
import time
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import formataddr, parseaddr

from flask import current_app

from storefront.extensions import db
from storefront.models import OutgoingMail
from storefront.models.base import utcnow

log = logging.getLogger(__name__)


class MailNotSent(Exception):
    """The mail server refused the message or could not be reached."""

    def __init__(self, reason: str, *, server_unreachable: bool) -> None:
        super().__init__(reason)
        self.server_unreachable = server_unreachable


def outbox_row(to: str, template: str, **context) -> dict[str, object]:
    """Render templates/mail/<template>.txt (first line: subject) as the values of a new
    outbox row (for a caller that writes the row in its own statement)."""
    # Straight from the Jinja environment: an email uses none of the page context (the
    # logged-in user, the CSRF token), whose processors would otherwise run for every one.
    text = current_app.jinja_env.get_template(f"mail/{template}.txt").render(context)
    subject, _, body = text.partition("\n")
    now = utcnow()
    return {"to_address": to, "subject": subject.strip(), "body": body.strip() + "\n",
            "template": template, "created_at": now, "attempts": 0, "next_attempt_at": now}


def queue_mail(to: str, template: str, **context) -> None:
    """Render templates/mail/<template>.txt (first line: subject) into the outbox; it is sent
    after the current transaction commits, and never if it rolls back."""
    db.session.add(OutgoingMail(**outbox_row(to, template, **context)))


# Text beyond ASCII goes as UTF-8, quoted-printable: 7-bit safe, and mostly readable raw.
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP
_SMTP_LINE = 998  # the longest line SMTP carries unencoded


def build_message(to: str, subject: str, body: str) -> Message:
    """The email for one outbox row, from the configured sender: plain text, as it is when
    it is ASCII (links stay whole in the raw message), else UTF-8.

    Built with the email package's classic classes: its modern EmailMessage parses every
    header it is given, which cost the mail worker more than sending the message did.
    """
    plain = body.isascii() and all(len(line) <= _SMTP_LINE for line in body.splitlines())
    message = MIMEText(body, "plain", "us-ascii" if plain else _UTF8)
    message["From"] = _header(current_app.config["MAIL_DEFAULT_SENDER"], address=True)
    message["To"] = _header(to, address=True)
    message["Subject"] = _header(subject)
    return message


def _header(value: str, *, address: bool = False) -> str | Header:
    """An ASCII header as it is; any other encoded (RFC 2047), an address's name only. A line
    break would start a header of its own: ValueError."""
    if "\n" in value or "\r" in value:
        raise ValueError("a header value cannot contain a line break")
    if value.isascii():
        return value
    if address:
        return formataddr(parseaddr(value), charset="utf-8")
    return Header(value, "utf-8")


class MailSender:
    """Sends messages over one connection to the mail server, opened for the first of them
    and closed with the sender (without MAIL_SERVER: to the log and files). After a failed
    message the connection is dropped, and the next message opens a new one."""

    def __init__(self) -> None:
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> MailSender:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def send(self, message: Message) -> None:
        """Send one message; MailNotSent if the server refused it or could not be reached."""
        try:
            self._deliver(message)
        except smtplib.SMTPException as error:
            self.close()
            unreachable = isinstance(error, (smtplib.SMTPConnectError,
                                             smtplib.SMTPServerDisconnected))
            raise MailNotSent(_reason(error), server_unreachable=unreachable) from error
        except OSError as error:  # refused, timed out, name not found: the server is not there
            self.close()
            raise MailNotSent(_reason(error), server_unreachable=True) from error

    def close(self) -> None:
        """End the connection, politely if the server still listens."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            config = current_app.config
            smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
            smtp = smtp_class(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10)
            try:
                if config["MAIL_USE_TLS"]:
                    smtp.starttls()
                if config.get("MAIL_USERNAME"):
                    smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            except BaseException:
                smtp.close()
                raise
            self._smtp = smtp
        return self._smtp

    def _deliver(self, message: Message) -> None:
        config = current_app.config
        if config.get("MAIL_SERVER"):
            self._connection().send_message(message)
            log.info("mail sent to %s: %s", message["To"], message["Subject"])
            return
        outbox = config["MAIL_OUTBOX_DIR"] or os.path.join(current_app.instance_path, "outbox")
        os.makedirs(outbox, exist_ok=True)
        path = os.path.join(outbox, f"{time.time_ns()}.eml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(message.as_string())
        log.info("mail to %s written to %s: %s\n%s", message["To"], path, message["Subject"],
                 message.get_payload(decode=True).decode("utf-8"))


def _reason(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]
