"""Finding the fund a request or command works on."""
from __future__ import annotations

from flask import current_app, g
from sqlalchemy.exc import IntegrityError

from fundapp.extensions import db
from fundapp.funds.models import Fund


def get_or_create_fund(defaults: dict) -> Fund:
    """Return the fund with ``defaults['slug']``, creating it from the settings if new."""
    fund = db.session.scalar(db.select(Fund).filter_by(slug=defaults["slug"]))
    if fund is not None:
        return fund
    try:
        with db.session.begin_nested():
            fund = Fund(**defaults)
            db.session.add(fund)
    except IntegrityError:  # another process created it first
        fund = db.session.scalar(db.select(Fund).filter_by(slug=defaults["slug"]))
    return fund


def current_fund() -> Fund:
    """The fund this installation serves (``FUND_SLUG``), made on first use."""
    if "fund" not in g:
        g.fund = get_or_create_fund(current_app.config["FUND_DEFAULTS"])
    return g.fund
