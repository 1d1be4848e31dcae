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
def _refuse_privileged_role(fund_slug: str | None = None) -> None:
    click.get_current_context().meta[FUND_OPTION] = fund_slug
    if click.get_current_context().invoked_subcommand not in OWNER_COMMANDS:
        try:
            db_roles.guard_database_role(current_app._get_current_object())
        except ConfigError as exc:
            fail(str(exc))


fund_cli = AppGroup("fund", help="Run the hardship fund: users, roster, demo data, mail.",
                    callback=_refuse_privileged_role,
                    params=[click.Option(["--fund", "fund_slug"], metavar="SLUG",
                                         help="The fund a command works on, on an installation of several "
                                              "(default: the installation's own, FUND_SLUG).")])


#: ``click.Context.meta`` key of the ``--fund`` option.
FUND_OPTION = "fundapp.fund_slug"


def installed_fund() -> Fund:
    """The fund a command works on: the one ``fund --fund SLUG`` names, else the installation's own
    (``FUND_SLUG``), read only: a command refuses (pointing at ``fund init``) when it is not set up."""
    ctx = click.get_current_context(silent=True)
    slug = (ctx.meta.get(FUND_OPTION) if ctx is not None else None) or current_app.config["FUND_DEFAULTS"]["slug"]
    try:
        return find_fund(slug)
    except FundNotInitialised as exc:
        fail(str(exc))


def every_fund_or_named() -> list[Fund]:
    """For a scheduled job (purge-closed, check-books): the fund ``--fund`` names, else every fund of the
    installation, in slug order, so one timer serves them all."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get(FUND_OPTION):
        return [installed_fund()]
    funds = list(db.session.scalars(db.select(Fund).order_by(Fund.slug)))
    return funds or [installed_fund()]  # none yet: installed_fund says to run `fund init`


def fail(message: str) -> NoReturn:
    """Undo the command's unsaved work, print ``message`` on standard error and exit 1."""
    db.session.rollback()
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)
