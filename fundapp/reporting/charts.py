"""The fund's charts, in the reader's language: the figures of ``figures`` handed to ``reports.charts``.

One function per chart, used by the pages (as SVG) and the PDFs (as drawings).
"""
from __future__ import annotations

from flask_babel import format_date
from flask_babel import gettext as _

from fundapp.applications.forms import category_name
from fundapp.reporting.figures import Week
from reports.charts import Chart, balance_line, category_bars, weekly_bars


def week_label(week: Week) -> str:
    return format_date(week.start, "MMM d")


def gifts_and_grants(weeks: list[Week]) -> Chart:
    return weekly_bars(
        _("Gifts and grants per week"),
        _("Bars for the money given and the grants approved in each of the last %(n)s weeks.", n=len(weeks)),
        [week_label(w) for w in weeks],
        [(_("Gifts"), [w.gifts_cents for w in weeks]), (_("Grants"), [w.grants_cents for w in weeks])],
        _("Week of"))


def grants_by_category(categories: list[tuple[str, int, int]]) -> Chart:
    return category_bars(
        _("Grants by category"), _("Bars for the total granted for each kind of need, largest first."),
        [(str(category_name(category)), count, cents) for category, count, cents in categories],
        [_("What for"), _("Grants"), _("Amount")])


def cash_on_hand(weeks: list[Week]) -> Chart:
    return balance_line(
        _("Cash on hand"), _("A line for the cash the fund held at the end of each of the last %(n)s weeks.",
                             n=len(weeks)),
        [(week_label(w), w.cash_cents) for w in weeks], [_("Week of"), _("Cash at the week's end")])
