"""Periods: closing a month (with a snapshot of its postings in the sealed audit record), checking closed months
against their snapshots, reopening, and the registries other domains fill to take part in a close."""
from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from flask_babel import gettext as _

from fundapp.audit.models import AuditRecord
from fundapp.audit.services import record_change, wait_for_writers
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.funds.models import Fund
from fundapp.ledger.errors import LedgerError
from fundapp.ledger.models import Account, ClosedPeriod, DayTotal, JournalEntry, Posting

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> str:
    if not _MONTH.match(text or ""):
        raise LedgerError(_("Write a month as YYYY-MM, for example 2026-10."))
    return text


def is_closed(fund: Fund, day: date) -> bool:
    return db.session.scalar(db.select(ClosedPeriod.id).filter_by(fund_id=fund.id, month=f"{day:%Y-%m}")) is not None


def closed_months(fund: Fund) -> list[str]:
    return list(db.session.scalars(db.select(ClosedPeriod.month).filter_by(fund_id=fund.id).order_by(ClosedPeriod.month)))


def next_months_to_close(fund: Fund, count: int = 3) -> list[str]:
    """The oldest ``count`` open months that hold entries and have ended: the next ones the treasurer closes."""
    days = db.session.scalars(db.select(DayTotal.day).where(DayTotal.fund_id == fund.id).distinct())
    closed = set(closed_months(fund))
    this_month = clock.month(fund)
    months = {f"{day:%Y-%m}" for day in days} - closed
    return sorted(month for month in months if month < this_month)[:count]


def month_snapshot(fund: Fund, month: str) -> dict[str, Any]:
    """The month's books from its postings: {"accounts": {name: {"cents", "postings"}}, "entries", "digest"}."""
    year, number = int(month[:4]), int(month[5:])
    start, end = date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])
    rows = db.session.execute(
        db.select(JournalEntry.id, Account.name, Posting.amount_cents)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(Account, Account.id == Posting.account_id)
        .where(JournalEntry.fund_id == fund.id, JournalEntry.entry_date >= start, JournalEntry.entry_date <= end)
        .order_by(JournalEntry.id, Posting.id).execution_options(yield_per=5000))
    accounts: dict[str, dict[str, int]] = {}
    entry_ids: set[int] = set()
    digest = hashlib.sha256()
    for entry_id, name, cents in rows:
        digest.update(f"{entry_id}|{name}|{cents}\n".encode())
        totals = accounts.setdefault(name, {"cents": 0, "postings": 0})
        totals["cents"] += cents
        totals["postings"] += 1
        entry_ids.add(entry_id)
    return {"accounts": accounts, "entries": len(entry_ids), "digest": digest.hexdigest()}


#: What other domains say about closing a month, by name: ``check(fund, "YYYY-MM") -> dict`` (plain values, with
#: at least "ready": whether that domain sees nothing left to do, and "summary": a sentence for the treasurer).
#: The bank reconciliation registers here, so the ledger imports none of the domains above it; the close keeps
#: each answer (less its summary) in its audit record.
CLOSE_CHECKS: dict[str, Callable[[Fund, str], dict[str, Any]]] = {}

#: How a domain that matches the books to the bank's statement says which entries have reached the bank:
#: ``clearing(fund, entry_ids)`` answers {entry id: (the bank line's date, its description)} for those matched.
#: The bank reconciliation registers here (nothing registered: nothing is known to have cleared).
CLEARING: list[Callable[[Fund, list[int]], dict[int, tuple[date, str]]]] = []


def cleared(fund: Fund, entry_ids: list[int]) -> dict[int, tuple[date, str]]:
    """Which of these entries the bank's statement shows, and as what (see ``CLEARING``)."""
    found: dict[int, tuple[date, str]] = {}
    for clearing in CLEARING:
        found.update(clearing(fund, entry_ids))
    return found


def close_checks(fund: Fund, month: str) -> dict[str, dict[str, Any]]:
    """Each registered domain's word on closing ``month``."""
    return {name: check(fund, month) for name, check in sorted(CLOSE_CHECKS.items())}


def closable_month(fund: Fund, text: str) -> str:
    """``text`` as a month the fund can close, or LedgerError: written as YYYY-MM, not closed already, and ended on
    the fund's calendar (a late payment for a closed month is booked on the fund's today, so closing this month,
    or a later one, would leave a gift Stripe settles tonight nowhere to go)."""
    month = parse_month(text)
    if month >= clock.month(fund):
        raise LedgerError(_("%(month)s has not ended yet: a month can be closed from the first day of the next.",
                            month=month))
    if month in closed_months(fund):
        raise LedgerError(_("%(month)s is already closed.", month=month))
    return month


def close_month(fund: Fund, month: str, *, actor: object = None) -> ClosedPeriod:
    """Close a month: from now on no entry may be dated in it. Its audit record keeps the month's snapshot, and
    what ``CLOSE_CHECKS`` said of the month (e.g. whether the bank statement was reconciled, and the difference).
    Only a month ``closable_month`` accepts."""
    month = closable_month(fund, month)
    wait_for_writers()  # no booking lands in the month between the snapshot and the close
    checks = {name: {key: value for key, value in check.items() if key != "summary"}
              for name, check in close_checks(fund, month).items()}
    period = ClosedPeriod(fund_id=fund.id, month=month, closed_by_id=getattr(actor, "id", None))
    db.session.add(period)
    db.session.flush()
    record_change("ledger.close_month", "period", month, actor=actor, fund_id=fund.id,
                  after={"closed": True, "snapshot": month_snapshot(fund, month), **checks})
    return period


def check_closed_months(fund: Fund) -> list[str]:
    """Each way a closed month differs from the snapshot in its newest close record; empty when none does.

    Months closed before snapshots were kept have none to compare with and are passed over.
    """
    problems = []
    for month in closed_months(fund):
        after = db.session.scalar(
            db.select(AuditRecord.after).where(AuditRecord.fund_id == fund.id, AuditRecord.action == "ledger.close_month",
                                               AuditRecord.object_type == "period", AuditRecord.object_id == month)
            .order_by(AuditRecord.id.desc()).limit(1))
        if after is None:
            problems.append(f"closed month {month}: the audit trail has no record of its closing")
            continue
        then = after.get("snapshot")
        if then is None:
            continue
        now = month_snapshot(fund, month)
        for name in sorted(then["accounts"].keys() | now["accounts"].keys()):
            was = then["accounts"].get(name, {"cents": 0, "postings": 0})
            is_ = now["accounts"].get(name, {"cents": 0, "postings": 0})
            if was["cents"] != is_["cents"]:
                problems.append(f"closed month {month}: {name} was {was['cents']} cents at closing, now {is_['cents']}")
            if was["postings"] != is_["postings"]:
                problems.append(f"closed month {month}: {name} had {was['postings']} postings at closing, "
                                f"now {is_['postings']}")
        if then["entries"] != now["entries"]:
            problems.append(f"closed month {month}: {then['entries']} entries at closing, now {now['entries']}")
        if then["digest"] != now["digest"]:
            problems.append(f"closed month {month}: its postings differ from those at closing (entries, accounts "
                            f"or amounts changed)")
    return problems


def reopen_month(fund: Fund, month: str, *, reason: str, actor: object = None) -> None:
    """Reopen a closed month (an audited treasurer action with a stated reason)."""
    month = parse_month(month)
    if not reason.strip():
        raise LedgerError(_("Please say why the month is reopened."))
    period = db.session.scalar(db.select(ClosedPeriod).filter_by(fund_id=fund.id, month=month))
    if period is None:
        raise LedgerError(_("%(month)s is not closed.", month=month))
    db.session.delete(period)
    db.session.flush()
    record_change("ledger.reopen_month", "period", month, actor=actor, fund_id=fund.id,
                  before={"closed": True}, after={"closed": False, "reason": reason.strip()})
