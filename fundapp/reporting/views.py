"""The trustees' dashboard, the public transparency page, and their charts."""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template

from fundapp.accounts.models import Role
from fundapp.applications.forms import category_name
from fundapp.applications.models import Application
from fundapp.extensions import utcnow
from fundapp.funds.services import current_fund
from fundapp.policy import public, roles_required
from fundapp.reporting import charts, figures
from fundapp.reporting.privacy import MINIMUM_GROUP
from reports.charts import svg

bp = Blueprint("reporting", __name__)

TRUSTEES = (Role.TRUSTEE, Role.TREASURER)
DASHBOARD_CHARTS = {
    "weekly": lambda fund, today: charts.gifts_and_grants(figures.weeks(fund, today)),
    "categories": lambda fund, today: charts.grants_by_category(figures.grants_by(fund, Application.category)),
    "cash": lambda fund, today: charts.cash_on_hand(figures.weeks(fund, today)),
}


def svg_response(chart) -> Response:
    return Response(svg(chart), mimetype="image/svg+xml", headers={"Cache-Control": "private, max-age=60"})


@bp.get("/review/dashboard")
@roles_required(*TRUSTEES)
def dashboard():
    fund = current_fund()
    today = utcnow().date()
    found = figures.dashboard(fund, today)
    pictures = {"weekly": charts.gifts_and_grants(found.weeks), "categories": charts.grants_by_category(found.categories),
                "cash": charts.cash_on_hand(found.weeks)}
    return render_template("reporting/dashboard.html", d=found, fund=fund, charts=pictures,
                           this_week=found.weeks[-1], last_week=found.weeks[-2], category_name=category_name)


@bp.get("/review/dashboard/<name>.svg")
@roles_required(*TRUSTEES)
def dashboard_chart(name):
    if name not in DASHBOARD_CHARTS:
        abort(404)
    return svg_response(DASHBOARD_CHARTS[name](current_fund(), utcnow().date()))


@bp.get("/transparency")
@public
def transparency():
    fund = current_fund()
    found = figures.public_figures(fund, utcnow().date())
    return render_template("reporting/transparency.html", fund=fund, f=found,
                           categories=charts.public_categories(found.categories),
                           periods=charts.public_periods(found.periods), minimum=MINIMUM_GROUP)


@bp.get("/transparency/<name>.svg")
@public
def transparency_chart(name):
    found = figures.public_figures(current_fund(), utcnow().date())
    if name == "periods" and found.periods:
        return svg_response(charts.public_periods(found.periods))
    if name == "categories" and found.categories:
        return svg_response(charts.public_categories(found.categories))
    abort(404)
