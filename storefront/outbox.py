"""The mail worker: deliver the outbox after the response, retrying with capped backoff.

Due messages are claimed a batch at a time in a short transaction (PostgreSQL: SELECT … FOR
UPDATE SKIP LOCKED; SQLite: every transaction takes the write lock at BEGIN), which pushes
their next attempt one lease ahead and counts the attempt. They are then sent over one
connection to the mail server with no transaction open, and the outcomes recorded together
in a second short transaction. So two workers never send the same row, a slow mail server
never holds a database lock, and a worker killed mid-send leaves its rows to be retried once
the lease runs out. A batch still unsent at half the lease is handed back unattempted, so a
slow server never lets a lease run out under a message not yet sent. Delivery is at least
once: a crash between the mail server taking a message and the outcome being recorded
sends it again.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from storefront.extensions import db
from storefront.mail import MailNotSent, MailSender, build_message
from storefront.models import OutgoingMail
from storefront.models.base import utcnow

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=30)  # doubled after every failure …
LONGEST_RETRY = timedelta(hours=1)  # … up to this
GIVE_UP_AFTER = timedelta(days=3)  # then staff see it as failed on /staff/mail
LEASE = timedelta(minutes=5)  # a claimed row is left alone this long (SMTP timeout: 10 s)
BATCH = 50  # rows claimed, sent and recorded together
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


@dataclass(frozen=True)
class _Claimed:
    id: int
    to: str
    subject: str
    body: str
    was_due_at: datetime | None


def _claim(now: datetime) -> list[_Claimed]:
    rows = db.session.scalars(
        select(OutgoingMail).where(OutgoingMail.next_attempt_at <= now)
        .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id)
        .limit(BATCH).with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for row in rows:
        claimed.append(_Claimed(row.id, row.to_address, row.subject, row.body or "",
                                row.next_attempt_at))
        row.attempts += 1
        row.next_attempt_at = now + LEASE
    return claimed


def _failure_text(error: Exception) -> str:
    """What went wrong, for staff: the mail server's answer, or for any other error its type
    and first line with links cut out (the message may hold a claim or reset link)."""
    if isinstance(error, MailNotSent):
        return str(error)
    first_line = (str(error).splitlines() or [""])[0]
    return f"{type(error).__name__}: {_LINK.sub('[link]', first_line)}"[:300]


def _record(row: OutgoingMail, now: datetime, error: Exception | None) -> None:
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


def _send(batch: list[_Claimed], sender: MailSender, stopping: Callable[[], bool],
          ) -> tuple[dict[int, Exception | None], bool]:
    """Send the batch in order: each tried row's error (None when sent), and whether the
    mail server could not be reached. The rest of the batch is left untried then, and once
    half the lease has gone or the worker is stopping."""
    outcomes: dict[int, Exception | None] = {}
    hand_back_at = time.monotonic() + LEASE.total_seconds() / 2
    for claimed in batch:
        if time.monotonic() >= hand_back_at or stopping():
            break
        try:
            sender.send(build_message(claimed.to, claimed.subject, claimed.body))
        except MailNotSent as failure:
            outcomes[claimed.id] = failure
            if failure.server_unreachable:
                return outcomes, True
        except Exception as failure:  # any other error, e.g. a message that cannot be built,
            outcomes[claimed.id] = failure  # is recorded too, so it backs off and is given up
        else:
            outcomes[claimed.id] = None
    return outcomes, False


def deliver_due(*, now: datetime, commit: Callable[[], None],
                stopping: Callable[[], bool] = lambda: False) -> DeliveryReport:
    """Send every outbox row due at `now`, a batch at a time, in short transactions (`commit`
    ends each). A failure schedules a retry; an unreachable server ends the pass, and so
    does `stopping()` (checked between messages)."""
    report = DeliveryReport()
    with MailSender() as sender:
        while True:
            batch = _claim(now)
            commit()
            if not batch:
                return report
            outcomes, unreachable = _send(batch, sender, stopping)
            rows = {row.id: row for row in db.session.scalars(
                select(OutgoingMail).where(OutgoingMail.id.in_([c.id for c in batch])))}
            for claimed in batch:
                row = rows[claimed.id]
                if claimed.id in outcomes:
                    _record(row, now, outcomes[claimed.id])
                else:  # not tried: as if never claimed
                    row.attempts -= 1
                    row.next_attempt_at = claimed.was_due_at
            commit()
            failed = sum(error is not None for error in outcomes.values())
            report.sent += len(outcomes) - failed
            report.failed += failed
            if unreachable:
                report.stopped_early = True
                return report
            if stopping():
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
            report = deliver_due(now=utcnow(), commit=db.session.commit, stopping=stop.is_set)
        except Exception:  # the database may be restarting: keep the worker alive
            log.exception("mail delivery pass failed; trying again in %s s", interval)
        else:
            if on_pass is not None:
                on_pass(report)
        db.session.remove()
        stop.wait(interval)
