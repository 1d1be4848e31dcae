"""Finding the fund a request or command works on, and changing its settings.

Every change of the settings is one audit record holding only the fields that changed, before and after.
The reserve is part of the grant rules (each change a new rules version); ``Fund.reserve_cents`` is their copy,
so the settings page changes the reserve through ``update_rules`` and nothing else writes it.

Each process keeps the fund it last read (``current_fund``): a request reads only the row's stamp, its
``settings_version`` (raised by every write of the row, ``models._raise_settings_version``) and when it was made,
and uses the kept copy while the stamp is the same.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort, current_app, g
from flask_babel import gettext as _
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached

from fundapp.audit.services import record_change
from fundapp.config import PLACEHOLDER_CONTACT_EMAIL, PLACEHOLDER_EIN
from fundapp.extensions import db
from fundapp.funds.models import FUND_WRITTEN, LEGAL_FORMS, Fund, FundNotInitialised, FundStatus
from fundapp.funds.mount import fund_path, requested_slug, slug_in_url

EIN_PATTERN = re.compile(r"\d{2}-\d{7}")

#: The settings ``update_fund_settings`` may change (``reserve_cents`` goes through the rules).
SETTING_FIELDS = ("name", "legal_name", "ein", "legal_form", "legal_form_wording", "postal_address",
                  "contact_email", "goal_cents", "reserve_cents", "time_zone", "fiscal_year_start_month",
                  "signatory_name", "signatory_title")


class FundSettingsError(ValueError):
    """A setting the fund cannot take; ``field`` names the form field to show it on."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def get_or_create_fund(defaults: dict) -> Fund:
    """Return the fund with ``defaults['slug']``, creating it from the settings if new (for ``fund init``,
    ``fundapp.setup.init_fund``, which also makes its first rules and chart; nothing on a request calls it)."""
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


def find_fund(slug: str) -> Fund:
    """The fund with ``slug``, read only; FundNotInitialised when ``fund init`` has not made it."""
    fund = db.session.scalar(db.select(Fund).filter_by(slug=slug))
    if fund is None:
        raise FundNotInitialised(f"The fund {slug!r}")
    return fund


#: What says a kept fund is still the row: its settings version and when it was made (a fund deleted and made
#: again, as every test does and a restore may, starts again at version 0).
FundStamp = tuple[int, datetime]

#: ``app.extensions`` key of the app's kept funds: slug -> KeptFund.
KEPT_FUNDS = "fundapp.kept_funds"


@dataclass(frozen=True)
class KeptFund:
    """A fund's row as read, kept by the process: plain values (str, int, bool, datetime), never changed, so any
    thread may build its own copy from it."""

    stamp: FundStamp
    values: dict[str, Any]


def fund_stamp_columns() -> tuple:
    """The columns of a fund's stamp, for a query that reads it along with something else
    (``accounts.sessions.load_user`` joins them to the signed-in user: one round trip for both)."""
    return Fund.settings_version, Fund.created_at


def note_fund_stamp(version: int | None, created_at: datetime | None) -> None:
    """Keep the stamp of the request's fund (``mount.requested_slug``) another query read, for ``current_fund`` to use this request."""
    if version is not None and created_at is not None:
        g.fund_stamp = (version, created_at)


def current_fund() -> Fund:
    """The fund this request works on (the one its path names, ``funds.mount``, else the installation's own,
    ``FUND_SLUG``), read only: ``fund init`` or ``fund open-fund`` makes it, never a request.

    The process keeps the fund it last read (per app); a request reads only its stamp (one small query, or none
    when the user's query brought it) and, while it is the same, puts the kept copy in its session without a
    query: a normal instance of the session, which loads, expires and writes like one read from the database."""
    if "fund" not in g:
        g.fund = _kept_or_read(requested_slug())
    return g.fund


def _kept_or_read(slug: str) -> Fund:
    stamp = g.pop("fund_stamp", None) or _read_stamp(slug)
    kept_funds = current_app.extensions.setdefault(KEPT_FUNDS, {})
    kept = kept_funds.get(slug)
    if kept is not None and stamp == kept.stamp:
        return _in_session(kept)
    if stamp is None and slug_in_url() == slug:
        abort(404)  # /f/<slug>/ of no fund: a wrong address, not an installation step skipped
    fund = find_fund(slug)  # FundNotInitialised when there is none
    fresh = _keepable(fund)
    if fresh is not None:
        kept_funds[slug] = fresh  # one assignment: another thread sees the old copy or this one, never half
    return fund


def _read_stamp(slug: str) -> FundStamp | None:
    row = db.session.execute(db.select(*fund_stamp_columns()).where(Fund.slug == slug)).first()
    return (row[0], row[1]) if row is not None else None


def _keepable(fund: Fund) -> KeptFund | None:
    """The fund's values to keep, or None when they may not be what the database holds for everyone: changed
    in this transaction (not committed yet), or not all loaded."""
    state = inspect(fund)
    if db.session.info.get(FUND_WRITTEN) or state.unloaded or fund in db.session.dirty:
        return None
    values = {column.key: getattr(fund, column.key) for column in Fund.__mapper__.column_attrs}
    return KeptFund(stamp=(fund.settings_version, fund.created_at), values=values)


def _in_session(kept: KeptFund) -> Fund:
    """The kept fund as an instance of this session, without a query (the one the session has, if it has it)."""
    present = db.session.identity_map.get(db.session.identity_key(Fund, (kept.values["id"],)))
    if present is not None:
        return present
    fund = Fund(**kept.values)
    make_transient_to_detached(fund)  # as if loaded: no changes to flush
    db.session.add(fund)
    return fund


def other_funds(fund: Fund) -> list[tuple[str, str]]:
    """(name, path) of every other fund of the installation still taking gifts, by name: each fund's home page
    lists them (an installation of one fund lists none)."""
    rows = db.session.execute(db.select(Fund.name, Fund.slug).where(Fund.id != fund.id,
                                                                   Fund.status != FundStatus.CLOSED)
                              .order_by(Fund.name)).all()
    return [(name, fund_path(slug)) for name, slug in rows]


def settings_key(fund: Fund) -> tuple:
    """Every column of the fund as it is now: a page made from the fund is the same while this is (a cache key)."""
    return tuple(getattr(fund, column.key) for column in Fund.__table__.columns)


def is_time_zone(name: str) -> bool:
    """An IANA time zone name zoneinfo knows ("America/Los_Angeles"); not a file path or a made-up name."""
    if not name or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def validate_settings(values: dict) -> None:
    """Raise FundSettingsError for the first setting the fund cannot take."""
    if not values["name"].strip():
        raise FundSettingsError(_("Enter the fund's name."), "name")
    if not values["legal_name"].strip():
        raise FundSettingsError(_("Enter the legal name receipts print."), "legal_name")
    if not EIN_PATTERN.fullmatch(values["ein"]):
        raise FundSettingsError(_("Enter the EIN as two digits, a hyphen and seven digits (12-3456789)."), "ein")
    if values["legal_form"] not in LEGAL_FORMS:
        raise FundSettingsError(_("Choose the fund's legal form."), "legal_form")
    if values["legal_form"] == "other" and not values["legal_form_wording"].strip():
        raise FundSettingsError(_("For another legal form, write what receipts should say about deductibility."),
                                "legal_form_wording")
    if not values["contact_email"].strip() or "@" not in values["contact_email"]:
        raise FundSettingsError(_("Enter the email address receipts give for questions."), "contact_email")
    if not is_time_zone(values["time_zone"]):
        raise FundSettingsError(_("Enter a time zone name such as America/Los_Angeles."), "time_zone")
    if not 1 <= values["fiscal_year_start_month"] <= 12:
        raise FundSettingsError(_("Choose the month the fiscal year starts."), "fiscal_year_start_month")
    if values["goal_cents"] < 0 or values["reserve_cents"] < 0:
        raise FundSettingsError(_("Amounts cannot be negative."), "goal" if values["goal_cents"] < 0 else "reserve")


def update_fund_settings(fund: Fund, *, actor, **values) -> dict:
    """Change the fund's settings (flushes); one audit record of what changed. Returns the changed fields."""
    values = {field: values.get(field, getattr(fund, field)) for field in SETTING_FIELDS}
    for field in ("name", "legal_name", "ein", "legal_form_wording", "postal_address", "contact_email",
                  "time_zone", "signatory_name", "signatory_title"):
        values[field] = values[field].strip()
    values["postal_address"] = "\n".join(line.strip() for line in values["postal_address"].splitlines()
                                         if line.strip())
    if values["legal_form"] != "other":
        values["legal_form_wording"] = ""
    validate_settings(values)
    changed = {field for field in SETTING_FIELDS if getattr(fund, field) != values[field]}
    if not changed:
        return {}
    before = {field: getattr(fund, field) for field in sorted(changed)}
    if "reserve_cents" in changed:
        from fundapp.applications.services import update_rules  # the rules import this module

        update_rules(fund, actor=actor, reserve_cents=values["reserve_cents"])
    for field in changed - {"reserve_cents"}:
        setattr(fund, field, values[field])
    db.session.flush()
    after = {field: getattr(fund, field) for field in sorted(changed)}
    record_change("fund.update", "fund", fund.id, actor=actor, fund_id=fund.id, before=before, after=after)
    return after


def receipt_placeholders(fund: Fund) -> list[str]:
    """The receipt details still at their placeholder ("ein", "contact_email"): no real receipt can carry them."""
    held = []
    if fund.ein in ("", PLACEHOLDER_EIN):
        held.append("ein")
    if fund.contact_email in ("", PLACEHOLDER_CONTACT_EMAIL):
        held.append("contact_email")
    return held


def receipts_held(fund: Fund) -> bool:
    """Production sends no receipt while the fund's EIN or contact is a placeholder."""
    return current_app.config["ENV_NAME"] == "production" and bool(receipt_placeholders(fund))


def give_instead(fund: Fund) -> list[tuple[str, str]]:
    """Where a closed fund's givers go: (name, path) of its successor, else of every fund still taking gifts."""
    if fund.successor_id is not None:
        successor = db.session.get(Fund, fund.successor_id)
        if successor is not None and successor.status != FundStatus.CLOSED:
            return [(successor.name, fund_path(successor.slug, "/donate"))]
    return [(name, path.rstrip("/") + "/donate") for name, path in other_funds(fund)]
