"""The ledger PDFs for a fund and a period: the books' data handed to ``reports.ledger`` as plain values.

Shared by the treasurer's page and ``flask fund report``, so both give the same file; the command has it written
straight into its file (``write_ledger_pdf``), the page takes the bytes (``ledger_pdf``).
"""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import BinaryIO

from flask_babel import gettext as _

from fundapp.funds import clock
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from reports.ledger import (
    ActivityStatement,
    BalanceSheet,
    JournalLine,
    TrialBalanceRow,
    render_activities,
    render_balance_sheet,
    render_trial_balance,
    write_journal,
)
from reports.style import DocumentInfo

KINDS = ("journal", "trial-balance", "activities", "balance-sheet")
TITLES = {"journal": "Journal by account", "trial-balance": "Trial balance", "activities": "Statement of activities",
          "balance-sheet": "Statement of financial position"}
#: Reports of the books at the end of one day (``end``, today when not given) rather than over a period.
AT_A_DATE = ("trial-balance", "balance-sheet")


class ReportRequestError(ValueError):
    """The dates asked for do not make a report."""


def period_label(start: date | None, end: date | None) -> str:
    if start is None:
        return "all dates" if end is None else f"up to {end.isoformat()}"
    if end is None:
        return f"from {start.isoformat()}"
    return f"{start.isoformat()} to {end.isoformat()}"


def ledger_pdf(fund: Fund, kind: str, start: date | None, end: date | None,
               generated_at: datetime | None = None) -> bytes:
    """The PDF of ``kind`` for the period; the trial balance and the balance sheet are at ``end`` (today when
    not given)."""
    buffer = io.BytesIO()
    write_ledger_pdf(fund, kind, start, end, buffer, generated_at)
    return buffer.getvalue()


def write_ledger_pdf(fund: Fund, kind: str, start: date | None, end: date | None, out: BinaryIO,
                     generated_at: datetime | None = None) -> None:
    """``ledger_pdf`` written into ``out`` (a binary file): the journal as it is drawn and saved, never whole in
    memory; the short reports at once. Refuses (``ReportRequestError``) before writing anything."""
    if kind not in KINDS:
        raise ReportRequestError(_("Choose a report: %(kinds)s.", kinds=", ".join(KINDS)))
    if start is not None and end is not None and start > end:
        raise ReportRequestError(_("The first day comes after the last day."))
    if kind in AT_A_DATE:
        at: date = end or clock.today(fund)
        end, start, period = at, None, at.isoformat()
    else:
        period = period_label(start, end)
    if kind == "activities" and (start is None or end is None):
        raise ReportRequestError(_("The statement of activities needs a first and a last day."))
    info = DocumentInfo(fund_name=fund.name, title=TITLES[kind],
                        period=period,
                        generated_at=clock.local(fund, generated_at), currency=fund.currency)
    if kind == "trial-balance":
        rows = [TrialBalanceRow(line.account, line.debit_cents, line.credit_cents)
                for line in ledger.trial_balance(fund, end)]
        out.write(render_trial_balance(info, rows))
    elif kind == "activities" and start is not None and end is not None:  # refused above when either is missing
        found = ledger.activities(fund, start, end)
        out.write(render_activities(info, ActivityStatement(found.revenue, found.expenses,
                                                            found.net_assets_start_cents, found.equity)))
    elif kind == "balance-sheet":
        position = ledger.financial_position(fund, end)
        out.write(render_balance_sheet(info, BalanceSheet(position.assets, position.liabilities, position.equity,
                                                          position.surplus_cents)))
    else:
        openings = (ledger.balances(fund, start - timedelta(days=1)) if start is not None
                    else {name: 0 for name in ledger.chart(fund)})
        lines = (JournalLine(*row) for row in ledger.journal_lines(fund, start, end))
        write_journal(info, openings, lines, out)


def filename(fund: Fund, kind: str, start: date | None, end: date | None) -> str:
    if kind in AT_A_DATE:  # the day the report is at, as ledger_pdf takes it
        return f"{fund.slug}-{kind}-{(end or clock.today(fund)).isoformat()}.pdf"
    span = "-".join(d.isoformat() for d in (start, end) if d) or "all"
    return f"{fund.slug}-{kind}-{span}.pdf"
