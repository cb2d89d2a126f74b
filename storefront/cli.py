"""flask commands: seed-plans, ledger, users, hours, stripe reconcile and sync-plans, mail
deliver."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from storefront import ledger
from storefront.account.passwords import check_new_password, hash_password
from storefront.account.reminders import notify_expiring
from storefront.account.students import find_by_email
from storefront.billing.plans import sync_plans
from storefront.catalog.services import seed_default_plans
from storefront.extensions import db
from storefront.formatting import hours_text
from storefront.models import User
from storefront.models.base import utcnow
from storefront.outbox import DeliveryReport, deliver_due, watch
from storefront.payments.errors import PaymentError
from storefront.purchases.reconcile import reconcile
from storefront.staff.forms import MAX_GRACE_HOURS
from storefront.validation import FieldError, clean_email, clean_int, clean_student_name
from storefront.webhooks.log import record_reconcile_run

ledger_cli = AppGroup("ledger", help="Inspect and check the hour ledger.")
users_cli = AppGroup("users", help="Manage accounts.")
hours_cli = AppGroup("hours", help="Expire hours and remind students before they expire.")
stripe_cli = AppGroup("stripe", help="Compare our records with Stripe's.")
mail_cli = AppGroup("mail", help="Deliver the email outbox.")


MAX_SINCE_DAYS = 3650


class WholeNumber(click.ParamType):
    """An option's integer read by clean_int: ASCII digits within [minimum, maximum]."""

    name = "integer"

    def __init__(self, minimum: int, maximum: int) -> None:
        self.minimum, self.maximum = minimum, maximum

    def convert(self, value, param, ctx) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value  # the default
        try:
            return clean_int(value, minimum=self.minimum, maximum=self.maximum)
        except FieldError as error:
            self.fail(str(error), param, ctx)


def _duration(value: str) -> timedelta:
    """'72h', '3d', '90m', '30s' -> a timedelta (at most ten years)."""
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    try:
        if len(value) < 2 or value[-1] not in units:
            raise FieldError("missing unit")
        since = timedelta(**{units[value[-1]]: clean_int(value[:-1], minimum=0)})
    except (FieldError, OverflowError):
        raise click.BadParameter("use a number and a unit: 90m, 72h or 3d") from None
    if since > timedelta(days=MAX_SINCE_DAYS):
        raise click.BadParameter(f"at most {MAX_SINCE_DAYS} days")
    return since


def _since(value: str, now: datetime) -> datetime:
    """A duration back from `now` ('72h') or a moment ('2026-01-31T12:00:00Z', UTC if no
    zone is given) -> the moment, which must not be in the future."""
    if value[:1].isdigit() and "-" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise click.BadParameter("use a moment like 2026-01-31T12:00:00Z") from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if moment > now:
            raise click.BadParameter("the moment must be in the past")
        return moment
    return now - _duration(value)


@hours_cli.command("expire")
@click.option("--grace-hours", default=24, show_default=True, type=WholeNumber(0, MAX_GRACE_HOURS))
@click.option("--dry-run", is_flag=True, help="List what would expire; change nothing.")
def hours_expire(grace_hours: int, dry_run: bool) -> None:
    """Expire the remaining minutes of lots past their expiry (plus grace)."""
    expired = ledger.expire_lots(now=utcnow(), grace=timedelta(hours=grace_hours),
                                 dry_run=dry_run)
    db.session.commit()  # a dry run wrote nothing
    verb = "Would expire" if dry_run else "Expired"
    for item in expired:
        click.echo(f"{verb} {item.minutes} min of lot {item.lot_id} (student {item.student_id})")
    click.echo(f"{verb} {sum(i.minutes for i in expired)} minutes in {len(expired)} lot(s).")


@hours_cli.command("notify-expiring")
@click.option("--days", default=7, show_default=True, type=WholeNumber(1, 3650))
def hours_notify_expiring(days: int) -> None:
    """Email students whose hours expire within --days (once per lot and window)."""
    reminded = notify_expiring(now=utcnow(), days=days)
    db.session.commit()
    click.echo(f"Reminded {len(reminded)} lot(s).")


@stripe_cli.command("reconcile")
@click.option("--since", default="72h", show_default=True,
              help="How far back: 72h, 3d, 90m, or a moment: 2026-01-31T12:00:00Z.")
def stripe_reconcile(since: str) -> None:
    """Fulfil paid PaymentIntents we missed, apply refunds, report mismatches and payments
    that could not be settled (exit 1; exit 2 when Stripe cannot be used at all)."""
    start = _since(since, utcnow())
    try:
        report = reconcile(start, checkpoint=db.session.commit)
    except PaymentError as error:
        db.session.rollback()
        click.echo(f"Stripe could not be read ({error.error_type}): {error.message}", err=True)
        raise SystemExit(2) from None
    record_reconcile_run(report, since=start)  # for the staff webhook log
    db.session.commit()
    for line in (*report.fulfilled, *report.updated, *report.refunds):
        click.echo(line)
    for line in report.mismatches:
        click.echo(f"MISMATCH {line}", err=True)
    for line in report.failures:
        click.echo(f"FAILED {line}", err=True)
    click.echo(f"Checked {report.checked} payment(s): {len(report.fulfilled)} fulfilled, "
               f"{len(report.refunds)} refund(s) applied, {len(report.mismatches)} mismatch(es), "
               f"{len(report.failures)} failure(s).")
    if report.mismatches or report.failures:
        raise SystemExit(1)


@stripe_cli.command("sync-plans")
def stripe_sync_plans() -> None:
    """Give every subscription plan a Stripe Product and a monthly Price of its current amount
    (a changed amount gets a new Price; the old one is deactivated). Exit 2 if Stripe fails."""
    try:
        changes = sync_plans(checkpoint=db.session.commit)
    except PaymentError as error:
        db.session.rollback()
        click.echo(f"Stripe could not be updated ({error.error_type}): {error.message}",
                   err=True)
        raise SystemExit(2) from None
    db.session.commit()
    for line in changes:
        click.echo(line)
    if not changes:
        click.echo("Every subscription plan is in step with Stripe; nothing changed.")


@stripe_cli.command("renew")
@click.argument("subscription_id")
def stripe_renew(subscription_id: str) -> None:
    """Development only: have the Stripe emulator start a subscription's next billing period
    (next invoice charged, webhooks sent); refused without STRIPE_API_BASE."""
    base = current_app.config.get("STRIPE_API_BASE")
    if not base:
        click.echo("Refused: renewing on demand needs the Stripe emulator (STRIPE_API_BASE); "
                   "real Stripe renews subscriptions itself.", err=True)
        raise SystemExit(2)
    request = urllib.request.Request(  # noqa: S310 (the config checks it is loopback http)
        f"{base.rstrip('/')}/_config/subscriptions/{urllib.parse.quote(subscription_id)}/renew",
        data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  # nosec B310 (the emulator on loopback http)
            subscription = json.load(response)
    except urllib.error.HTTPError as error:
        message = (json.loads(error.read() or b"{}").get("error") or {}).get("message")
        click.echo(f"The emulator refused: {message or error.reason}", err=True)
        raise SystemExit(1) from None
    except OSError as error:
        click.echo(f"The emulator could not be reached at {base}: {error}", err=True)
        raise SystemExit(2) from None
    click.echo(f"Subscription {subscription['id']} is {subscription['status']}; its invoice "
               "and events follow by webhook.")


def _delivery_line(report: DeliveryReport) -> str:
    line = f"Sent {report.sent} email(s), {report.failed} failed (retried later)."
    if report.stopped_early:
        line += " The mail server could not be reached; the rest waits for the next run."
    return line


@mail_cli.command("deliver")
@click.option("--watch", "keep_watching", is_flag=True,
              help="Keep delivering until SIGTERM or Ctrl-C (the mail worker).")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(min=0.05),
              help="Seconds between looks at the outbox with --watch.")
def mail_deliver(keep_watching: bool, interval: float) -> None:
    """Send the email that is due, once (for cron; exit 1 if any failed), or keep doing so
    with --watch."""
    if keep_watching:
        click.echo(f"Watching the outbox every {interval:g} s; stop with SIGTERM or Ctrl-C.")

        def report_pass(report: DeliveryReport) -> None:
            if report.sent or report.failed:
                click.echo(_delivery_line(report))

        watch(interval=interval, on_pass=report_pass)
        click.echo("Mail worker stopped.")
        return
    report = deliver_due(now=utcnow(), commit=db.session.commit)
    click.echo(_delivery_line(report))
    if report.failed:
        raise SystemExit(1)


@click.command("seed-plans")
@with_appcontext
def seed_plans_command() -> None:
    """Create the default pricing plans that are missing (by name)."""
    created = seed_default_plans()
    db.session.commit()
    if created:
        click.echo(f"Created {len(created)} plan(s): {', '.join(created)}")
    else:
        click.echo("All default plans already exist.")


@ledger_cli.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def ledger_show(email: str, as_json: bool) -> None:
    """Print a student's balance, lots and entries."""
    student = find_by_email(email.strip())
    if student is None:
        raise click.ClickException(f"No student with email {email}")
    statement = ledger.student_statement(student)
    if as_json:
        click.echo(json.dumps(statement, indent=2))
        return
    click.echo(f"{statement['name']} <{statement['email']}>: "
               f"{hours_text(statement['available_minutes'])} hours available"
               + (f", {hours_text(statement['pending_minutes'])} hours pending"
                  if statement["pending_minutes"] else ""))
    click.echo("Lots:")
    for lot in statement["lots"]:
        pending = f" (+{lot['minutes_pending']} pending)" if lot["minutes_pending"] else ""
        click.echo(f"  lot {lot['lot_id']} purchase {lot['purchase_id']}: "
                   f"{lot['minutes_remaining']}/{lot['minutes_granted']} min{pending}, "
                   f"expires {lot['expires_at'] or 'never'}")
    click.echo("Entries:")
    for entry in statement["entries"]:
        minutes = (f"{entry['pending_minutes']:>+7} min pending" if entry["pending_minutes"]
                   else f"{entry['minutes']:>+7} min")
        click.echo(f"  {entry['created_at']} {entry['kind']:<22} {minutes} "
                   f"lot {entry['lot_id']} {entry['reference']}")


@ledger_cli.command("verify")
def ledger_verify() -> None:
    """Check every ledger invariant; exit 1 and list the violations if any."""
    problems = ledger.verify_ledger()
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        raise SystemExit(1)
    click.echo("Ledger OK: every invariant holds.")


@users_cli.command("create-staff")
@click.argument("email")
@click.option("--name", default="Staff", show_default=True)
@click.password_option(help="Asked for when not given.")
def create_staff(email: str, name: str, password: str) -> None:
    """Create a staff account, or make an existing account staff (and set its password)."""
    try:
        email = clean_email(email)
        name = clean_student_name(name)
        check_new_password(password)
    except FieldError as error:
        raise click.ClickException(str(error)) from None
    user = find_by_email(email)
    if user is None:
        user = User(email=email, name=name)
        db.session.add(user)
        db.session.flush()
        ledger.open_balance(user)
    user.is_staff = True
    user.set_password_hash(hash_password(password))
    db.session.commit()
    click.echo(f"{email} is staff.")


def register_commands(app: Flask) -> None:
    """Attach the storefront's commands to `flask`."""
    app.cli.add_command(seed_plans_command)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(hours_cli)
    app.cli.add_command(stripe_cli)
    app.cli.add_command(mail_cli)
