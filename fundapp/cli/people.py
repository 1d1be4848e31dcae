"""People: accounts, their roles and second factor, and the membership roster."""
from __future__ import annotations

import os
import sys

import click

from fundapp.accounts import membership as roster_service
from fundapp.accounts import services
from fundapp.accounts.models import Role
from fundapp.cli.base import fail, fund_cli, installed_fund
from fundapp.extensions import db

ROLE_NAMES = [r.value for r in Role]


@fund_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLE_NAMES),
              help="Repeat for several roles.")
@click.option("--language", type=click.Choice(["en", "es"]), default="en")
def create_user_command(email, name, roles, language):
    """Create an account. The password comes from FUNDAPP_PASSWORD or a prompt, never an argument."""
    password = os.environ.get("FUNDAPP_PASSWORD")
    if not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = services.create_user(installed_fund(), email=email, name=name, password=password, roles=roles,
                                    language=language)
    except services.AccountError as exc:
        fail(str(exc))
    db.session.commit()
    click.echo(f"Created {user.email} with roles: {', '.join(sorted(roles))}")


@fund_cli.command("import-roster")
@click.argument("file", type=click.File("rb"))
def import_roster_command(file):
    """Import (upsert by member id) the membership roster from a CSV file; all or nothing."""
    try:
        result = roster_service.import_roster(installed_fund(), file.read())
    except roster_service.RosterInvalid as exc:
        db.session.rollback()
        click.echo(f"Error: {exc}", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"Imported {result.rows} rows: {result.created} new, {result.updated} updated, "
               f"{result.unchanged} unchanged.")


@fund_cli.command("clear-second-factor")
@click.option("--email", required=True)
def clear_second_factor_command(email):
    """Forget someone's authenticator app (a lost phone and lost recovery codes): they connect a new one at
    their next sign-in."""
    from fundapp.accounts import two_factor

    user = services.find_user_by_email(email)
    if user is None:
        fail(f"no account uses {email}")
    two_factor.clear(user, actor=None)
    db.session.commit()
    click.echo(f"{user.email} will connect a new authenticator app at their next sign-in.")
