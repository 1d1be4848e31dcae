"""Charts drawn once with ReportLab graphics: the same drawing goes into a PDF and, as SVG, onto a page.

Pure, like every module here: labels and integer cents in, a ``Chart`` out. A
chart carries its title, a one-sentence description and the table of the exact
figures it draws, so a page can set the table beside the picture for screen
readers, and a test can check the picture against the table.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape  # nosec B406 # escapes our output; parses no XML

from reportlab.graphics import renderSVG
from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors

from reports import fonts
from reports.style import BRAND, amount_text

WIDTH, HEIGHT = 480, 240
PALETTE = (BRAND, colors.HexColor("#1f5f8b"), colors.HexColor("#6b8e23"), colors.HexColor("#8c6d1f"))
FONT, BOLD = fonts.REGULAR, fonts.BOLD


@dataclass(frozen=True)
class Chart:
    title: str
    description: str
    drawing: Drawing
    header: list[str]
    rows: list[list[str]]  # the figures drawn, as text, in the order drawn


def axis_label(cents: float) -> str:
    """An axis tick in whole currency units: 250000 -> "2,500" (ticks are round numbers of cents)."""
    return f"{int(round(cents)) // 100:,}"


def _drawing(title: str) -> Drawing:
    fonts.register()
    drawing = Drawing(WIDTH, HEIGHT)
    drawing.add(String(10, HEIGHT - 16, title, fontName=BOLD, fontSize=11, fillColor=colors.black))
    return drawing


def _value_axis(axis, top: int) -> None:
    axis.valueMin = 0
    if top <= 0:
        axis.valueMax = 100  # an empty chart still gets an axis
    else:
        axis.valueMax = None  # round ticks above the largest figure
    axis.labelTextFormat = axis_label
    axis.labels.fontName, axis.labels.fontSize = FONT, 8
    axis.visibleGrid = True
    axis.gridStrokeColor = colors.HexColor("#dddddd")


def _legend(drawing: Drawing, names: list[str], x: int, y: int) -> None:
    legend = Legend()
    legend.x, legend.y = x, y
    legend.alignment = "right"  # the name to the right of its swatch
    legend.columnMaximum = 1  # one name per column: the names side by side
    legend.deltax = 90
    legend.dxTextSpace = 6
    legend.fontName, legend.fontSize = FONT, 8
    legend.colorNamePairs = [(PALETTE[i % len(PALETTE)], name) for i, name in enumerate(names)]
    drawing.add(legend)


def weekly_bars(title: str, description: str, labels: list[str], series: list[tuple[str, list[int]]],
                label_header: str) -> Chart:
    """Side-by-side bars per period (e.g. gifts and grants per week); ``series`` is (name, cents per label)."""
    drawing = _drawing(title)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 50, 45, WIDTH - 70, HEIGHT - 95
    chart.data = [[max(v, 0) for v in values] or [0] for _name, values in series]
    for i in range(len(series)):
        chart.bars[i].fillColor = PALETTE[i % len(PALETTE)]
        chart.bars[i].strokeColor = None
    chart.categoryAxis.categoryNames = labels or [""]
    chart.categoryAxis.labels.fontName, chart.categoryAxis.labels.fontSize = FONT, 7
    chart.categoryAxis.labels.angle = 30 if len(labels) > 8 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(labels) > 8 else "n"
    _value_axis(chart.valueAxis, max((v for _n, values in series for v in values), default=0))
    drawing.add(chart)
    _legend(drawing, [name for name, _v in series], WIDTH - 90 * len(series), HEIGHT - 10)
    rows = [[label, *(amount_text(values[i]) for _n, values in series)] for i, label in enumerate(labels)]
    return Chart(title, description, drawing, [label_header, *(name for name, _v in series)], rows)


def category_bars(title: str, description: str, items: list[tuple[str, int, int]], headers: list[str]) -> Chart:
    """Horizontal bars of amounts by group; ``items`` is (label, count, cents), drawn largest first."""
    items = sorted(items, key=lambda item: (-item[2], item[0]))
    drawing = _drawing(title)
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 130, 20, WIDTH - 160, HEIGHT - 55
    chart.data = [[cents for _label, _count, cents in reversed(items)] or [0]]
    chart.bars[0].fillColor, chart.bars[0].strokeColor = PALETTE[1], None
    chart.categoryAxis.categoryNames = [label for label, _count, _cents in reversed(items)] or [""]
    chart.categoryAxis.labels.fontName, chart.categoryAxis.labels.fontSize = FONT, 8
    _value_axis(chart.valueAxis, max((cents for _l, _c, cents in items), default=0))
    drawing.add(chart)
    rows = [[label, str(count), amount_text(cents)] for label, count, cents in items]
    return Chart(title, description, drawing, headers, rows)


def balance_line(title: str, description: str, points: list[tuple[str, int]], headers: list[str]) -> Chart:
    """One line of a balance over time; ``points`` is (label, cents at that date)."""
    drawing = _drawing(title)
    chart = HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 50, 45, WIDTH - 70, HEIGHT - 80
    chart.data = [[cents for _label, cents in points] or [0]]
    chart.lines[0].strokeColor, chart.lines[0].strokeWidth = BRAND, 2
    chart.categoryAxis.categoryNames = [label for label, _cents in points] or [""]
    chart.categoryAxis.labels.fontName, chart.categoryAxis.labels.fontSize = FONT, 7
    chart.categoryAxis.labels.angle = 30 if len(points) > 8 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(points) > 8 else "n"
    low = min((cents for _l, cents in points), default=0)
    _value_axis(chart.valueAxis, max((cents for _l, cents in points), default=0))
    chart.valueAxis.valueMin = min(low, 0)
    drawing.add(chart)
    rows = [[label, amount_text(cents)] for label, cents in points]
    return Chart(title, description, drawing, headers, rows)


_STYLE = re.compile(r'style="([^"]*)"')


def _attributes(match: re.Match) -> str:
    """style="fill: red; stroke-width: 1" -> fill="red" stroke-width="1" (presentation attributes)."""
    pairs = (part.split(":", 1) for part in match.group(1).split(";") if ":" in part)
    return " ".join(f'{name.strip()}="{value.strip()}"' for name, value in pairs)


def svg(chart: Chart) -> str:
    """The chart as an SVG document whose title and description name it for assistive technology.

    Styles become presentation attributes, so the file draws under a Content-Security-Policy that
    forbids inline styles.
    """
    text = _STYLE.sub(_attributes, renderSVG.drawToString(chart.drawing))
    # The PDF's font names mean nothing to a browser: name the same faces in CSS terms.
    text = text.replace(f'font-family="{BOLD}"', 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
                                                  'font-weight="bold"')
    text = text.replace(f'font-family="{FONT}"', 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"')
    text = text.replace("<title>...</title>", f"<title id=\"chart-title\">{escape(chart.title)}</title>", 1)
    text = text.replace("<desc>...</desc>", f"<desc id=\"chart-desc\">{escape(chart.description)}</desc>", 1)
    return text.replace("<svg ", '<svg role="img" aria-labelledby="chart-title chart-desc" ', 1)
