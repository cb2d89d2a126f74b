"""flask commands: seed-plans, ledger show, ledger verify."""

from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from storefront import ledger
from storefront.account.passwords import check_new_password, hash_password
from storefront.account.students import find_by_email
from storefront.catalog.services import seed_default_plans
from storefront.extensions import db
from storefront.formatting import hours_text
from storefront.models import User
from storefront.validation import FieldError, clean_email, clean_student_name

ledger_cli = AppGroup("ledger", help="Inspect and check the hour ledger.")
users_cli = AppGroup("users", help="Manage accounts.")


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
               f"{hours_text(statement['available_minutes'])} hours available")
    click.echo("Lots:")
    for lot in statement["lots"]:
        click.echo(f"  lot {lot['lot_id']} purchase {lot['purchase_id']}: "
                   f"{lot['minutes_remaining']}/{lot['minutes_granted']} min, "
                   f"expires {lot['expires_at'] or 'never'}")
    click.echo("Entries:")
    for entry in statement["entries"]:
        click.echo(f"  {entry['created_at']} {entry['kind']:<22} {entry['minutes']:>+7} min "
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
    user.password_hash = hash_password(password)
    user.end_sessions()
    db.session.commit()
    click.echo(f"{email} is staff.")


def register_commands(app: Flask) -> None:
    """Attach the storefront's commands to `flask`."""
    app.cli.add_command(seed_plans_command)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(users_cli)
