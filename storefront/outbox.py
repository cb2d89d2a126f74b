"""The mail worker: deliver the outbox after the response, retrying with capped backoff.

Each message is claimed in a short transaction (PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED;
SQLite: every transaction takes the write lock at BEGIN), which pushes its next attempt one
lease ahead and counts the attempt. It is then sent with no transaction open, and the outcome
recorded in a second short transaction. So two workers never send the same row, a slow mail
server never holds a database lock, and a worker killed mid-send leaves the row to be retried
once the lease runs out. Delivery is at least once: a crash between the mail server taking
the message and the outcome being recorded sends it again.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from storefront.extensions import db
from storefront.mail import MailNotSent, build_message, send_mail
from storefront.models import OutgoingMail
from storefront.models.base import utcnow

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=30)  # doubled after every failure …
LONGEST_RETRY = timedelta(hours=1)  # … up to this
GIVE_UP_AFTER = timedelta(days=3)  # then staff see it as failed on /staff/mail
LEASE = timedelta(minutes=5)  # a claimed row is left alone this long (SMTP timeout: 10 s)
_LINK = re.compile(r"\w+://\S+")


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    stopped_early: bool = False  # the mail server could not be reached; the rest waits


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the given number of failed attempts (doubling, capped)."""
    if attempts >= 8:  # 30 s · 2^7 is already past the cap
        return LONGEST_RETRY
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)


def _claim(now: datetime) -> tuple[int, str, str, str] | None:
    row = db.session.scalars(
        select(OutgoingMail).where(OutgoingMail.next_attempt_at <= now)
        .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id)
        .limit(1).with_for_update(skip_locked=True)
    ).first()
    if row is None:
        return None
    row.attempts += 1
    row.next_attempt_at = now + LEASE
    return row.id, row.to_address, row.subject, row.body or ""


def _failure_text(error: Exception) -> str:
    """What went wrong, for staff: the mail server's answer, or for any other error its type
    and first line with links cut out (the message may hold a claim or reset link)."""
    if isinstance(error, MailNotSent):
        return str(error)
    first_line = (str(error).splitlines() or [""])[0]
    return f"{type(error).__name__}: {_LINK.sub('[link]', first_line)}"[:300]


def _record(row_id: int, now: datetime, error: Exception | None) -> None:
    row = db.session.get(OutgoingMail, row_id)
    if error is None:
        row.sent_at, row.next_attempt_at, row.last_error = now, None, None
        row.body = None  # it may hold a claim or reset link; no longer needed
        return
    reason = row.last_error = _failure_text(error)
    if now - row.created_at >= GIVE_UP_AFTER:
        row.next_attempt_at = None
        log.error("mail %d to %s given up after %d attempts: %s", row.id, row.to_address,
                  row.attempts, reason)
    else:
        row.next_attempt_at = now + retry_delay(row.attempts)
        log.warning("mail %d to %s not sent (attempt %d), next try at %s: %s", row.id,
                    row.to_address, row.attempts, row.next_attempt_at.isoformat(), reason)


def deliver_due(*, now: datetime, commit: Callable[[], None]) -> DeliveryReport:
    """Send every outbox row due at `now`, one short transaction per step (`commit` ends
    each). A failure schedules a retry; an unreachable server ends the pass."""
    report = DeliveryReport()
    while True:
        claimed = _claim(now)
        commit()
        if claimed is None:
            return report
        row_id, to, subject, body = claimed
        error = None
        try:
            send_mail(build_message(to, subject, body))
        except MailNotSent as failure:
            error = failure
        except Exception as failure:  # any other error, e.g. a message that cannot be built,
            error = failure  # is recorded too, so it backs off and is given up in the end
        _record(row_id, now, error)
        commit()
        if error is None:
            report.sent += 1
            continue
        report.failed += 1
        if isinstance(error, MailNotSent) and error.server_unreachable:
            report.stopped_early = True
            return report


def undelivered(limit: int = 200) -> list[OutgoingMail]:
    """Mail not sent yet (waiting, retrying or given up), oldest first."""
    return list(db.session.scalars(
        select(OutgoingMail).where(OutgoingMail.sent_at.is_(None))
        .order_by(OutgoingMail.created_at, OutgoingMail.id).limit(limit)))


def watch(*, interval: float, on_pass: Callable[[DeliveryReport], None] | None = None) -> None:
    """Deliver due mail every `interval` seconds until SIGTERM or SIGINT; a message being
    sent when the signal arrives is finished first."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.is_set():
        try:
            report = deliver_due(now=utcnow(), commit=db.session.commit)
        except Exception:  # the database may be restarting: keep the worker alive
            log.exception("mail delivery pass failed; trying again in %s s", interval)
        else:
            if on_pass is not None:
                on_pass(report)
        db.session.remove()
        stop.wait(interval)
