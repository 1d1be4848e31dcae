"""The fund's reports as PDFs: the books' figures handed to ``reports.fund_report`` as plain values.

Shared by the reports page and ``flask fund report``, so both give the same file.
The grants register and the donor list are for the trustees and the auditor
(English, like the ledger PDFs); the board report comes in the reader's language,
and so does the members' report, which is anonymised.
"""
from __future__ import annotations

import calendar
from datetime import date, datetime

from flask_babel import force_locale
from flask_babel import gettext as _

from fundapp.accounts.models import Member
from fundapp.applications.models import Application, category_name
from fundapp.funds import clock
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from fundapp.pdf_text import LANGUAGES, page_words
from fundapp.reporting import charts, exports, figures
from fundapp.reporting.privacy import MINIMUM_GROUP
from reports.fund_report import Section, render_report
from reports.style import DocumentInfo, amount_text, paragraph

KINDS = ("monthly", "members", "register", "donors")
TITLES = {"monthly": "Monthly report to the board", "members": "Report for members",
          "register": "Grants register", "donors": "Donor list"}


class ReportRequestError(ValueError):
    """The month or dates asked for do not make a report."""


def month_span(month: str, today: date) -> tuple[date, date]:
    """"2026-11" -> its first day and its last (or today, for the month under way)."""
    try:
        year, number = (int(part) for part in ledger.parse_month(month).split("-"))
    except ledger.LedgerError as exc:
        raise ReportRequestError(str(exc)) from exc
    start = date(year, number, 1)
    if start > today:
        raise ReportRequestError(_("That month has not begun."))
    return start, min(date(year, number, calendar.monthrange(year, number)[1]), today)


def _info(fund: Fund, kind: str, period: str, generated_at: datetime | None, title: str | None = None,
          language: str = "en"):
    return DocumentInfo(fund_name=fund.name, title=title or TITLES[kind], period=period, currency=fund.currency,
                        generated_at=clock.local(fund, generated_at), words=page_words(language))


def _by(groups: list[tuple[str, int, int]], name=lambda key: key, total: str = "Total") -> list[list[str]]:
    """grants_by's groups as table rows, with a total row."""
    return [[name(key), str(count), amount_text(cents)] for key, count, cents in groups] + \
        [[total, str(sum(count for _k, count, _c in groups)), amount_text(sum(cents for _k, _n, cents in groups))]]


def monthly_report(fund: Fund, month: str, today: date, generated_at: datetime | None = None,
                   language: str = "en") -> bytes:
    """The board's month, in ``language``: the dashboard's figures and charts at the month's end, the
    statement of activities, and the month's grants by category and by worksite."""
    start, end = month_span(month, today)
    with force_locale(language if language in LANGUAGES else "en"):
        return _monthly_report(fund, month, start, end, generated_at, language)


def _monthly_report(fund: Fund, month: str, start: date, end: date, generated_at: datetime | None,
                    language: str) -> bytes:
    found = figures.dashboard(fund, end)
    moved = ledger.period_totals(fund, start, end)
    activities = ledger.activities(fund, start, end)
    runway = found.runs_dry_on.isoformat() if found.runs_dry_on else _("no grants in the last 4 weeks")
    summary = [
        [_("Available to grant"), amount_text(found.available_cents)],
        [_("Cash on hand"), amount_text(found.cash_cents)],
        ["   " + _("at Stripe"), amount_text(found.stripe_cents)],
        ["   " + _("in the bank"), amount_text(found.bank_cents)],
        ["   " + _("received, not yet deposited"), amount_text(found.undeposited_cents)],
        [_("Approved, not yet paid"), amount_text(found.committed_cents)],
        [_("Kept in reserve"), amount_text(found.reserve_cents)],
        [_("Gifts in the month (less refunds)"), amount_text(-moved.get(figures.GIFTS, 0))],
        [_("Grants approved in the month"), amount_text(moved.get(figures.GRANTS, 0))],
        [_("Average grants a week (last 4 weeks)"), amount_text(found.weekly_spend_cents)],
        [_("Money available lasts until (no new gifts)"), runway],
    ]
    revenue = sum(cents for _n, cents in activities.revenue)
    expenses = sum(cents for _n, cents in activities.expenses)
    statement = ([[name, amount_text(cents)] for name, cents in activities.revenue] +
                 [[_("Total revenue"), amount_text(revenue)]] +
                 [[name, amount_text(cents)] for name, cents in activities.expenses] +
                 [[_("Total expenses"), amount_text(expenses)],
                  [_("Change in net assets"), amount_text(revenue - expenses)],
                  [_("Net assets at the start"), amount_text(activities.net_assets_start_cents)]] +
                 [[_("Equity entry: %(name)s", name=name), amount_text(cents)] for name, cents in activities.equity] +
                 [[_("Net assets at the end"), amount_text(activities.net_assets_end_cents)]])
    weekly, cash, categories = (charts.gifts_and_grants(found.weeks), charts.cash_on_hand(found.weeks),
                                charts.grants_by_category(found.categories))
    sections = [
        Section(_("The fund at %(date)s", date=end.isoformat()),
                header=[_("Figure"), _("Amount (%(currency)s)", currency=fund.currency)], rows=summary,
                numeric_cols=(1,), col_widths=[300, 150]),
        Section(_("Gifts, grants and cash, week by week"), note=weekly.description,
                charts=[weekly.drawing, cash.drawing]),
        Section(_("Statement of activities"),
                note=_("%(start)s to %(end)s", start=start.isoformat(), end=end.isoformat()),
                header=["", _("Amount (%(currency)s)", currency=fund.currency)], rows=statement, numeric_cols=(1,),
                col_widths=[300, 150]),
        Section(_("Grants approved in the month by category"), header=[_("Category"), _("Grants"), _("Amount")],
                rows=_by(figures.grants_by(fund, Application.category, since=start, until=end),
                         lambda key: str(category_name(key)), _("Total")), numeric_cols=(1, 2),
                total_row=True),
        Section(_("Grants approved in the month by worksite"), header=[_("Worksite"), _("Grants"), _("Amount")],
                rows=_by(figures.grants_by(fund, Member.worksite, since=start, until=end),
                         lambda key: key or _("(none)"), _("Total")), numeric_cols=(1, 2), total_row=True),
        Section(_("Grants by category since the fund began"), note=categories.description, header=categories.header,
                rows=categories.rows, numeric_cols=(1, 2), charts=[categories.drawing]),
    ]
    if found.queue_count:
        sections.append(Section(_("Waiting for a decision"), note=_(
            "%(count)s applications asking for %(amount)s in all (at the report's printing).",
            count=found.queue_count, amount=f"{amount_text(found.queue_cents)} {fund.currency}")))
    return render_report(_info(fund, "monthly", month, generated_at, _("Monthly report to the board"), language),
                         _("Figures come from the fund's books. Amounts are in %(currency)s.", currency=fund.currency),
                         sections)


def members_report(fund: Fund, today: date, language: str = "en", generated_at: datetime | None = None) -> bytes:
    """Anonymised totals for the members: no names, no worksites, no group under MINIMUM_GROUP grants."""
    with force_locale(language):
        found = figures.public_figures(fund, today)
        categories, periods = charts.public_categories(found.categories), charts.public_periods(found.periods)
        totals = [[_("Raised from gifts"), amount_text(found.raised_cents)], [_("Gifts"), str(found.gifts)]]
        if found.grants_to is not None:
            totals += [[_("Grants made to %(date)s", date=found.grants_to.isoformat()), str(found.grants)],
                       [_("Granted to %(date)s", date=found.grants_to.isoformat()), amount_text(found.granted_cents)]]
        sections = [Section(_("Totals"), header=["", fund.currency], rows=totals, numeric_cols=(1,),
                            col_widths=[300, 150])]
        if found.categories:
            sections.append(Section(categories.title, header=categories.header, rows=categories.rows,
                                    numeric_cols=(1, 2), charts=[categories.drawing]))
            sections.append(Section(periods.title, note=periods.description, header=periods.header,
                                    rows=periods.rows, numeric_cols=(1, 2), charts=[periods.drawing]))
        intro = _("No name, worksite or single grant appears in this report. Any group of fewer than %(n)s "
                  "grants is merged with others, so no striker can be identified.", n=MINIMUM_GROUP)
        return render_report(_info(fund, "members", today.isoformat(), generated_at, _("Report for members"),
                                   language),
                             intro, sections)


def register_pdf(fund: Fund, start: date | None, end: date | None, generated_at: datetime | None = None) -> bytes:
    """Every grant for the auditor (IRS Publication 3833): date, recipient, address, amount, purpose."""
    rows, total = [], 0
    for r in exports.grant_records(fund, start, end):
        a = r.application
        total += a.amount_approved_cents or 0
        rows.append([r.approved_on.isoformat() if r.approved_on else "",
                     *(paragraph(text, "small_body") for text in (r.recipient, r.address,
                                                                  str(category_name(a.category)))),
                     amount_text(a.amount_approved_cents or 0), paragraph(", ".join(r.deciders), "small_body")])
    rows.append(["", "Total", "", "", amount_text(total), ""])
    period = " to ".join(d.isoformat() for d in (start, end) if d) or "all dates"
    return render_report(_info(fund, "register", period, generated_at),
                         "Each grant's case file holds the need, the criteria version, the documents and any "
                         "declared relationship.",
                         [Section("Grants", header=["Date", "Recipient", "Address", "Purpose", "Amount", "Decided by"],
                                  rows=rows, numeric_cols=(4,), total_row=True,
                                  col_widths=[58, 92, 120, 90, 62, 90])])


def donors_pdf(fund: Fund, generated_at: datetime | None = None) -> bytes:
    """Donors with their totals, for thank-you work (names shown: this list never leaves the trustees)."""
    rows, gifts_total, total = [], 0, 0
    for name, email, gifts, given, _first, last, monthly, anonymous in exports.donor_records(fund):
        gifts_total, total = gifts_total + gifts, total + given
        rows.append([paragraph(name, "small_body"), paragraph(email, "small_body"), str(gifts), amount_text(given),
                     last.isoformat() if last else "",
                     ("monthly" if monthly else "") + (" · anonymous" if anonymous else "")])
    rows.append(["Total", "", str(gifts_total), amount_text(total), "", ""])
    return render_report(_info(fund, "donors", "all gifts", generated_at),
                         "Donors who asked to stay anonymous are marked: thank them privately, never in public.",
                         [Section("Donors", header=["Donor", "Email", "Gifts", "Given", "Last gift", ""], rows=rows,
                                  numeric_cols=(2, 3), total_row=True, col_widths=[110, 150, 40, 65, 65, 82])])


def report_pdf(fund: Fund, kind: str, today: date, *, month: str | None = None, language: str = "en",
               start: date | None = None, end: date | None = None) -> bytes:
    """One of KINDS, with what it needs: the month for the board (this month when None), the language for
    members, dates for the register. What the reports page and ``flask fund report`` both call."""
    if kind == "monthly":
        return monthly_report(fund, month if month is not None else today.strftime("%Y-%m"), today,
                              language=language)
    if kind == "members":
        return members_report(fund, today, language if language in ("en", "es") else "en")
    if kind == "register":
        return register_pdf(fund, start, end)
    if kind == "donors":
        return donors_pdf(fund)
    raise ReportRequestError(_("Choose a report: %(kinds)s.", kinds=", ".join(KINDS)))
