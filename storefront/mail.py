"""Sending email after the transaction commits: SMTP, or files under instance/outbox/.

Services queue messages on the database session; they go out only if the transaction
commits, so a rolled-back request never sends mail about something that did not happen.
"""

from __future__ import annotations

import logging
import os
import smtplib
import time
from email.message import EmailMessage

from flask import current_app, has_app_context, render_template
from sqlalchemy import event
from sqlalchemy.orm import Session

from storefront.extensions import db

log = logging.getLogger(__name__)
_QUEUE_KEY = "outgoing_mail"


class MailNotSent(Exception):
    """The mail server refused or could not be reached."""


def build_mail(to: str, template: str, **context) -> EmailMessage:
    """Render templates/mail/<template>.txt; its first line is the subject."""
    text = render_template(f"mail/{template}.txt", **context)
    subject, _, body = text.partition("\n")
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = subject.strip()
    message.set_content(body.strip() + "\n")
    return message


def queue_mail(to: str, template: str, **context) -> None:
    """Send the rendered mail once the current transaction commits."""
    db.session.info.setdefault(_QUEUE_KEY, []).append(build_mail(to, template, **context))


def send_now(message: EmailMessage) -> None:
    """Send at once; MailNotSent if that fails (for jobs that record what was sent)."""
    try:
        _deliver(message)
    except (OSError, smtplib.SMTPException) as error:
        raise MailNotSent(str(error)) from error


def _deliver(message: EmailMessage) -> None:
    config = current_app.config
    if config.get("MAIL_SERVER"):
        smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
        with smtp_class(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
            if config["MAIL_USE_TLS"]:
                smtp.starttls()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            smtp.send_message(message)
        log.info("mail sent to %s: %s", message["To"], message["Subject"])
        return
    outbox = config["MAIL_OUTBOX_DIR"] or os.path.join(current_app.instance_path, "outbox")
    os.makedirs(outbox, exist_ok=True)
    path = os.path.join(outbox, f"{time.time_ns()}.eml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(message.as_string())
    log.info("mail to %s written to %s: %s\n%s", message["To"], path, message["Subject"],
             message.get_content())


def _send_queued(session: Session) -> None:
    messages = session.info.pop(_QUEUE_KEY, [])
    if not messages or not has_app_context():
        return
    for message in messages:
        try:
            _deliver(message)
        except (OSError, smtplib.SMTPException):
            log.exception("could not send mail to %s: %s", message["To"], message["Subject"])


def _drop_queued(session: Session, previous_transaction) -> None:
    if not previous_transaction.nested:  # a savepoint's rollback keeps the outer mail
        session.info.pop(_QUEUE_KEY, None)


def watch_commits() -> None:
    """Send queued mail when a transaction commits; drop it on rollback."""
    if event.contains(Session, "after_commit", _send_queued):
        return
    event.listen(Session, "after_commit", _send_queued)
    event.listen(Session, "after_soft_rollback", _drop_queued)
