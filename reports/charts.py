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


@dataclass(frozen=True)
class Size:
    """A chart's canvas and type sizes (points). The phone's is narrower with larger type, so that drawn into
    a 390 px screen its smallest text is still at least 12 px."""

    width: int = WIDTH
    height: int = HEIGHT
    title: float = 11
    label: float = 8  # value axis, legend and category names of the bar chart by group
    tick: float = 7  # a period's name under its bars
    left: int = 50  # room for the value axis' labels
    names: int = 130  # room for the category names of the bar chart by group
    legend_step: int = 90
    slant: int = 30  # the angle of period names when there are many


DESKTOP = Size()
PHONE = Size(width=300, height=300, title=13, label=11, tick=11, left=52, names=135, legend_step=80, slant=60)
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


def _drawing(title: str, size: Size) -> Drawing:
    fonts.register()
    drawing = Drawing(size.width, size.height)
    drawing.add(String(10, size.height - 4 - size.title, title, fontName=BOLD, fontSize=size.title,
                       fillColor=colors.black))
    return drawing


def _value_axis(axis, top: int, size: Size) -> None:
    axis.valueMin = 0
    if top <= 0:
        axis.valueMax = 100  # an empty chart still gets an axis
    else:
        axis.valueMax = None  # round ticks above the largest figure
    axis.labelTextFormat = axis_label
    axis.labels.fontName, axis.labels.fontSize = FONT, size.label
    axis.visibleGrid = True
    axis.gridStrokeColor = colors.HexColor("#dddddd")


def _legend(drawing: Drawing, names: list[str], x: int, y: int, size: Size) -> None:
    legend = Legend()
    legend.x, legend.y = x, y
    legend.alignment = "right"  # the name to the right of its swatch
    legend.columnMaximum = 1  # one name per column: the names side by side
    legend.deltax = size.legend_step
    legend.dxTextSpace = 6
    legend.fontName, legend.fontSize = FONT, size.label
    legend.colorNamePairs = [(PALETTE[i % len(PALETTE)], name) for i, name in enumerate(names)]
    drawing.add(legend)


def weekly_bars(title: str, description: str, labels: list[str], series: list[tuple[str, list[int]]],
                label_header: str, size: Size = DESKTOP) -> Chart:
    """Side-by-side bars per period (e.g. gifts and grants per week); ``series`` is (name, cents per label)."""
    drawing = _drawing(title, size)
    chart = VerticalBarChart()
    bottom = 45 if size.slant <= 30 else 30 + 3 * size.tick
    chart.x, chart.y, chart.width, chart.height = size.left, bottom, size.width - size.left - 20, \
        size.height - bottom - 50 - size.title
    chart.data = [[max(v, 0) for v in values] or [0] for _name, values in series]
    for i in range(len(series)):
        chart.bars[i].fillColor = PALETTE[i % len(PALETTE)]
        chart.bars[i].strokeColor = None
    chart.categoryAxis.categoryNames = labels or [""]
    chart.categoryAxis.labels.fontName, chart.categoryAxis.labels.fontSize = FONT, size.tick
    chart.categoryAxis.labels.angle = size.slant if len(labels) > 8 * size.width // WIDTH else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(labels) > 8 * size.width // WIDTH else "n"
    _value_axis(chart.valueAxis, max((v for _n, values in series for v in values), default=0), size)
    drawing.add(chart)
    _legend(drawing, [name for name, _v in series], size.width - size.legend_step * len(series),
            size.height - 14 - size.title, size)
    rows = [[label, *(amount_text(values[i]) for _n, values in series)] for i, label in enumerate(labels)]
    return Chart(title, description, drawing, [label_header, *(name for name, _v in series)], rows)


def category_bars(title: str, description: str, items: list[tuple[str, int, int]], headers: list[str],
                  size: Size = DESKTOP) -> Chart:
    """Horizontal bars of amounts by group; ``items`` is (label, count, cents), drawn largest first."""
    items = sorted(items, key=lambda item: (-item[2], item[0]))
    drawing = _drawing(title, size)
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = size.names, 20 + size.label, size.width - size.names - 30, \
        size.height - 40 - size.label - size.title
    chart.data = [[cents for _label, _count, cents in reversed(items)] or [0]]
    chart.bars[0].fillColor, chart.bars[0].strokeColor = PALETTE[1], None
    chart.categoryAxis.categoryNames = [label for label, _count, _cents in reversed(items)] or [""]
    chart.categoryAxis.labels.fontName, chart.categoryAxis.labels.fontSize = FONT, size.label
    _value_axis(chart.valueAxis, max((cents for _l, _c, cents in items), default=0), size)
    drawing.add(chart)
    rows = [[label, str(count), amount_text(cents)] for label, count, cents in items]
    return Chart(title, description, drawing, headers, rows)


def balance_line(title: str, description: str, points: list[tuple[str, int]], headers: list[str],
                 size: Size = DESKTOP) -> Chart:
    """One line of a balance over time; ``points`` is (label, cents at that date)."""
    drawing = _drawing(title, size)
    chart = HorizontalLineChart()
    bottom = 45 if size.slant <= 30 else 30 + 3 * size.tick
    chart.x, chart.y, chart.width, chart.height = size.left, bottom, size.width - size.left - 20, \
        size.height - bottom - 35 - size.title
    chart.data = [[cents for _label, cents in points] or [0]]
    chart.lines[0].strokeColor, chart.lines[0].strokeWidth = BRAND, 2
    chart.categoryAxis.categoryNames = [label for label, _cents in points] or [""]
    chart.categoryAxis.labels.fontName, chart.categoryAxis.labels.fontSize = FONT, size.tick
    chart.categoryAxis.labels.angle = size.slant if len(points) > 8 * size.width // WIDTH else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(points) > 8 * size.width // WIDTH else "n"
    low = min((cents for _l, cents in points), default=0)
    _value_axis(chart.valueAxis, max((cents for _l, cents in points), default=0), size)
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
