"""The fund's charts, in the reader's language: the figures of ``figures`` handed to ``reports.charts``.

One function per chart, used by the pages (as SVG) and the PDFs (as drawings).
"""
from __future__ import annotations

from datetime import timedelta

from flask_babel import format_date
from flask_babel import gettext as _

from fundapp.applications.models import category_name
from fundapp.reporting.figures import Week
from fundapp.reporting.privacy import MINIMUM_GROUP, Group, Period
from reports.charts import DESKTOP, Chart, Size, balance_line, category_bars, weekly_bars
from reports.charts import PHONE as PHONE  # re-exported: the views pick charts.PHONE or charts.DESKTOP


def week_label(week: Week) -> str:
    return format_date(week.start, "MMM d")


def gifts_and_grants(weeks: list[Week], size: Size = DESKTOP) -> Chart:
    return weekly_bars(
        _("Gifts and grants per week"),
        _("Bars for the money given and the grants approved in each of the last %(n)s weeks.", n=len(weeks)),
        [week_label(w) for w in weeks],
        [(_("Gifts"), [w.gifts_cents for w in weeks]), (_("Grants"), [w.grants_cents for w in weeks])],
        _("Week of"), size=size)


def grants_by_category(categories: list[tuple[str, int, int]], size: Size = DESKTOP) -> Chart:
    return category_bars(
        _("Grants by category"), _("Bars for the total granted for each kind of need, largest first."),
        [(str(category_name(category)), count, cents) for category, count, cents in categories],
        [_("What for"), _("Grants"), _("Amount")], size=size)


def cash_on_hand(weeks: list[Week], size: Size = DESKTOP) -> Chart:
    return balance_line(
        _("Cash on hand"), _("A line for the cash the fund held at the end of each of the last %(n)s weeks.",
                             n=len(weeks)),
        [(week_label(w), w.cash_cents) for w in weeks], [_("Week of"), _("Cash at the week's end")], size=size)


def group_name(group: Group) -> str:
    return category_name(group.keys[0]) if not group.merged else _("Other needs, merged")


def period_label(period: Period) -> str:
    if period.end - period.start <= timedelta(days=6):
        return format_date(period.start, "MMM d")
    return f"{format_date(period.start, 'MMM d')} – {format_date(period.end, 'MMM d')}"


def public_periods(periods: list[tuple[Period, int]], size: Size = DESKTOP) -> Chart:
    return weekly_bars(
        _("Raised and granted over time"),
        _("Bars for the gifts received and the grants made in each period; a period covers enough weeks "
          "to hold at least %(n)s grants.", n=MINIMUM_GROUP),
        [period_label(p) for p, _gifts in periods],
        [(_("Gifts"), [gifts for _p, gifts in periods]), (_("Grants"), [p.cents for p, _gifts in periods])],
        _("Period"), size=size)


def public_categories(groups: list[Group], size: Size = DESKTOP) -> Chart:
    return category_bars(
        _("Grants by kind of need"), _("Bars for the total granted for each kind of need, largest first."),
        [(group_name(g), g.count, g.cents) for g in groups], [_("What for"), _("Grants"), _("Amount")], size=size)
