"""The trustees' dashboard, the public transparency page, and their charts."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import get_locale, ngettext

from fundapp.accounts.models import Role
from fundapp.applications.models import Application, category_name
from fundapp.donations import receipts
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.funds.services import current_fund
from fundapp.policy import public, roles_required
from fundapp.reporting import charts, documents, exports, figures
from fundapp.reporting.privacy import MINIMUM_GROUP
from fundapp.web import date_arg, download
from reports.charts import svg

bp = Blueprint("reporting", __name__)

TRUSTEES = (Role.TRUSTEE, Role.TREASURER)
DASHBOARD_CHARTS = {
    "weekly": lambda fund, today, size: charts.gifts_and_grants(figures.weeks(fund, today), size),
    "categories": lambda fund, today, size: charts.grants_by_category(figures.grants_by(fund, Application.category),
                                                                      size),
    "cash": lambda fund, today, size: charts.cash_on_hand(figures.weeks(fund, today), size),
}


def _size():
    """?size=phone: the chart drawn narrower with larger type, for screens under 40rem (see _chart.html)."""
    return charts.PHONE if request.args.get("size") == "phone" else charts.DESKTOP


def svg_response(chart) -> Response:
    return Response(svg(chart), mimetype="image/svg+xml", headers={"Cache-Control": "private, max-age=60"})


@bp.get("/review/dashboard")
@roles_required(*TRUSTEES)
def dashboard():
    fund = current_fund()
    found = figures.dashboard(fund, clock.today(fund))
    pictures = {"weekly": charts.gifts_and_grants(found.weeks), "categories": charts.grants_by_category(found.categories),
                "cash": charts.cash_on_hand(found.weeks)}
    return render_template("reporting/dashboard.html", d=found, fund=fund, charts=pictures,
                           this_week=found.weeks[-1], last_week=found.weeks[-2], category_name=category_name)


@bp.get("/review/dashboard/<name>.svg")
@roles_required(*TRUSTEES)
def dashboard_chart(name):
    if name not in DASHBOARD_CHARTS:
        abort(404)
    fund = current_fund()
    return svg_response(DASHBOARD_CHARTS[name](fund, clock.today(fund), _size()))


@bp.get("/transparency")
@public
def transparency():
    fund = current_fund()
    found = figures.public_figures_cached(fund, clock.today(fund))
    return render_template("reporting/transparency.html", fund=fund, f=found,
                           categories=charts.public_categories(found.categories),
                           periods=charts.public_periods(found.periods), minimum=MINIMUM_GROUP)


@bp.get("/transparency/<name>.svg")
@public
def transparency_chart(name):
    fund = current_fund()
    found = figures.public_figures_cached(fund, clock.today(fund))
    if name == "periods" and found.periods:
        return svg_response(charts.public_periods(found.periods, _size()))
    if name == "categories" and found.categories:
        return svg_response(charts.public_categories(found.categories, _size()))
    abort(404)


STATEMENTS_PER_REQUEST = 25  # PDFs built and queued, about a second: a web worker is never held for minutes


def _statement_year(fund) -> int:
    """The year asked for, or last year in January and February (when statements go out), else this year."""
    today = clock.today(fund)
    text = request.values.get("year", "")
    if text.isdigit() and 2000 <= int(text) <= today.year:
        return int(text)
    return today.year - 1 if today.month <= 2 else today.year


@bp.get("/reports/")
@roles_required(Role.TREASURER)
def reports():
    fund = current_fund()
    year = _statement_year(fund)
    progress = receipts.statement_progress(fund, year)
    return render_template("reporting/reports.html", fund=fund, month=clock.month(fund),
                           year=year, progress=progress, batch=STATEMENTS_PER_REQUEST,
                           keep_going=bool(request.args.get("continue")) and progress.due > 0,
                           mailing=progress.delivered < progress.queued)


@bp.post("/reports/statements")
@roles_required(Role.TREASURER)
def send_statements():
    """Queue the next batch of year-end statements for the worker to mail; the page shows how far queuing and
    delivery have got (and, with script, asks for the next batch until all are queued)."""
    fund = current_fund()
    year = _statement_year(fund)
    queued = 0
    for done in receipts.send_due_statements(fund, year, limit=STATEMENTS_PER_REQUEST):
        queued += done
        db.session.commit()  # one donor at a time, each a short write, as the command does
    due = receipts.statement_progress(fund, year).due
    flash(ngettext("%(num)s statement queued for mailing; %(due)s to go.",
                   "%(num)s statements queued for mailing; %(due)s to go.", queued, due=due), "success")
    again = request.form.get("all") and due
    return redirect(url_for("reporting.reports", year=year, **({"continue": 1} if again else {}),
                            _anchor="statements"))


@bp.get("/reports/<kind>.pdf")
@roles_required(Role.TREASURER)
def report_pdf(kind):
    if kind not in documents.KINDS:
        abort(404)
    fund = current_fund()
    today = clock.today(fund)
    try:
        pdf = documents.report_pdf(fund, kind, today, month=request.args.get("month", ""),
                                   language=request.args.get("lang") or str(get_locale() or "en"),
                                   start=date_arg("from"), end=date_arg("to"))
    except documents.ReportRequestError as exc:
        flash(str(exc), "error")
        return redirect(url_for("reporting.reports"))
    label = request.args["month"] if kind == "monthly" else today.isoformat()  # the month passed month_span
    return download(pdf, f"{fund.slug}-{kind}-{label}.pdf")


@bp.get("/reports/<table>.csv")
@roles_required(Role.TREASURER)
def report_csv(table):
    if table not in exports.TABLES:
        abort(404)
    fund = current_fund()
    header, rows = exports.TABLES[table]
    return download(stream_with_context(exports.csv_chunks(header, rows(fund))),
                    f"{fund.slug}-{table}-{clock.today(fund).isoformat()}.csv", "text/csv; charset=utf-8")
