"""The ``fund`` command group and what its commands share: the guard on the database role, the fund
the installation serves, and failing with a clear message."""
from __future__ import annotations

import sys
from typing import NoReturn

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from fundapp import db_roles
from fundapp.config import ConfigError
from fundapp.extensions import db
from fundapp.funds.models import Fund, FundNotInitialised
from fundapp.funds.services import find_fund

#: Commands an operator may run in production as the database's owner role: ``restore`` rebuilds the
#: schema, ``db-roles`` only prints SQL. Every other command (the worker and the cron jobs among them)
#: refuses a role that could rewrite the books, as the web server does.
OWNER_COMMANDS = {"restore", "db-roles"}


@with_appcontext
def _refuse_privileged_role() -> None:
    if click.get_current_context().invoked_subcommand not in OWNER_COMMANDS:
        try:
            db_roles.guard_database_role(current_app._get_current_object())
        except ConfigError as exc:
            fail(str(exc))


fund_cli = AppGroup("fund", help="Run the hardship fund: users, roster, demo data, mail.",
                    callback=_refuse_privileged_role)


def installed_fund() -> Fund:
    """The fund this installation serves (``FUND_SLUG``), read only: a command refuses (pointing at
    ``fund init``) when it is not set up."""
    try:
        return find_fund(current_app.config["FUND_DEFAULTS"]["slug"])
    except FundNotInitialised as exc:
        fail(str(exc))


def fail(message: str) -> NoReturn:
    """Undo the command's unsaved work, print ``message`` on standard error and exit 1."""
    db.session.rollback()
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)
