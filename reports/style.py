"""The shared page style of every fundapp PDF.

``render_document`` lays flowables on US Letter pages whose frame carries the
fund's name and the document's title at the top, and the period, generation
stamp and "page N of M" at the bottom. Output is byte-identical for the same
input (``rl_config.invariant``), so a re-issued document is the same file.
"""
from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph, Table, TableStyle

from reports import fonts
from reports.fonts import BOLD, REGULAR

rl_config.invariant = 1

MARGIN = 0.75 * inch
BRAND = colors.HexColor("#a4161a")
MAX_TABLE_ROWS = 1000  # one platypus Table grows quadratically: split longer tables


@dataclass(frozen=True)
class PageWords:
    """The words of every page's footer; the app passes them translated (``{total}`` ends ``page``)."""

    generated: str = "generated {stamp}"
    page: str = "page {number} of {total}"


@dataclass(frozen=True)
class DocumentInfo:
    fund_name: str
    title: str
    period: str
    #: Printed in its own zone: callers pass the moment in the fund's (``funds.clock.local``).
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    author: str = "fundapp"
    currency: str = "USD"
    #: The footer's words in the document's language.
    words: PageWords = field(default_factory=lambda: PageWords())


def amount_text(cents: int) -> str:
    """Cents as a plain amount with thousands separators: -123456 -> "-1,234.56" (no float involved)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{part:02d}"


@functools.cache
def styles() -> dict[str, ParagraphStyle]:
    """The paragraph styles, made once per process (a paragraph only reads its style)."""
    fonts.register()
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontName=BOLD, fontSize=18, leading=22, alignment=0,
                                textColor=BRAND, spaceAfter=12),
        "heading": ParagraphStyle("heading", parent=base["Heading2"], fontName=BOLD, fontSize=13, leading=16,
                                  spaceBefore=10),
        "body": ParagraphStyle("body", parent=base["BodyText"], fontName=REGULAR, fontSize=10, leading=13),
        "small": ParagraphStyle("small", parent=base["BodyText"], fontName=REGULAR, fontSize=8, leading=10,
                                textColor=colors.grey),
        # Long text inside a table cell: wraps in its column, in the table's own size.
        "small_body": ParagraphStyle("small_body", parent=base["BodyText"], fontName=REGULAR, fontSize=9, leading=11),
        # A cell's one line in fonts besides the table's: as the table would draw it (bold in bold rows).
        "cell": ParagraphStyle("cell", fontName=REGULAR, fontSize=9, leading=11),
        "cell_bold": ParagraphStyle("cell_bold", fontName=BOLD, fontSize=9, leading=11),
    }


@functools.cache
def _cjk_style(name: str) -> ParagraphStyle:
    """``name``'s style wrapping between any two characters, as Chinese and Japanese text wraps."""
    return ParagraphStyle(f"{name}_cjk", parent=styles()[name], wordWrap="CJK")


def paragraph(text: str, style: str = "body") -> Paragraph:
    """A paragraph of plain text: markup characters in data are escaped, never interpreted; each character
    in a font that has it (``reports.fonts``)."""
    chosen = styles()[style]
    return Paragraph(fonts.markup(text, chosen.fontName),
                     _cjk_style(style) if fonts.uses_cjk(text) else chosen)


def _cell(value, bold: bool):
    """A table cell: text the table's font draws stays text; text needing other fonts becomes a paragraph."""
    if not isinstance(value, str):
        return value
    one_font = fonts.plain(value, BOLD if bold else REGULAR)
    if one_font is not None:
        return one_font
    return Paragraph(fonts.markup(value, BOLD if bold else REGULAR), styles()["cell_bold" if bold else "cell"])


def tables(header: list[str], rows: list[list[str]], col_widths=None, numeric_cols=(), total_row: bool = False,
           bold_rows: Sequence[int] = ()) -> list[Table]:
    """A long table as several tables of at most MAX_TABLE_ROWS rows, each repeating the header.

    ``total_row`` sets the last row in bold under a rule; ``bold_rows`` are indexes into ``rows``.
    """
    bold = {len(rows) - 1} if total_row and rows else set()
    bold.update(bold_rows)
    rows = [[_cell(value, i in bold) for value in row] for i, row in enumerate(rows)]
    header = [_cell(value, True) for value in header]
    chunks = [rows[i:i + MAX_TABLE_ROWS] for i in range(0, len(rows), MAX_TABLE_ROWS)] or [[]]
    result = []
    for chunk in chunks:
        table = Table([header, *chunk], colWidths=col_widths, repeatRows=1)
        commands = [
            ("FONT", (0, 0), (-1, 0), BOLD, 9),
            ("FONT", (0, 1), (-1, -1), REGULAR, 9),
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f3f1ec")]),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
        commands += [("ALIGN", (c, 0), (c, -1), "RIGHT") for c in numeric_cols]
        offset = len(result) * MAX_TABLE_ROWS
        commands += [("FONT", (0, i - offset + 1), (-1, i - offset + 1), BOLD, 9)
                     for i in bold_rows if 0 <= i - offset < len(chunk)]
        if total_row and chunk is chunks[-1] and chunk:
            commands += [("FONT", (0, -1), (-1, -1), BOLD, 9),
                         ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black)]
        table.setStyle(TableStyle(commands))
        result.append(table)
    return result


class _NumberedCanvas(Canvas):
    """Defers each page so the footer can say "page N of M"."""

    def __init__(self, *args, info: DocumentInfo, **kwargs):
        super().__init__(*args, **kwargs)
        self._info = info
        self._pages: list[dict] = []

    def showPage(self):
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            draw_frame(self, self._info, number, total)
            super().showPage()
        super().save()


#: A canvas form holding the page count, for documents drawn page by page before the count is known.
PAGE_COUNT_FORM = "fundapp-page-count"


def draw_frame(canvas: Canvas, info: DocumentInfo, number: int, total: int | None) -> None:
    """The header (fund, title) and footer (period, stamp, "page N of M") of one page.

    With ``total`` None the count is the form PAGE_COUNT_FORM, which the caller
    draws once before saving.
    """
    width, height = canvas._pagesize
    canvas.saveState()
    canvas.setFillColor(BRAND)
    fonts.draw(canvas, MARGIN, height - 0.5 * inch, info.fund_name, BOLD, 10)
    canvas.setFillColor(colors.black)
    fonts.draw(canvas, width - MARGIN, height - 0.5 * inch, info.title, REGULAR, 9, align="right")
    canvas.setStrokeColor(colors.lightgrey)
    canvas.line(MARGIN, height - 0.58 * inch, width - MARGIN, height - 0.58 * inch)
    canvas.setFont(REGULAR, 8)
    canvas.setFillColor(colors.grey)
    stamp = info.generated_at.strftime("%Y-%m-%d %H:%M %Z")  # in the zone given: the fund's (see funds.clock)
    fonts.draw(canvas, MARGIN, 0.45 * inch, f"{info.period} · {info.words.generated.format(stamp=stamp)}", REGULAR, 8)
    if total is not None:
        fonts.draw(canvas, width - MARGIN, 0.45 * inch, info.words.page.format(number=number, total=total),
                   REGULAR, 8, align="right")
    else:
        label = info.words.page.split("{total}", 1)[0].format(number=number)
        left = width - MARGIN - 60
        canvas.drawString(left, 0.45 * inch, label)
        canvas.translate(left + stringWidth(label, REGULAR, 8), 0.45 * inch)
        canvas.doForm(PAGE_COUNT_FORM)
    canvas.restoreState()


def render_document(info: DocumentInfo, flowables: list) -> bytes:
    """Lay ``flowables`` on framed pages and return the PDF's bytes."""
    fonts.register()
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer, pagesize=LETTER, leftMargin=MARGIN, rightMargin=MARGIN,
        topMargin=0.85 * inch, bottomMargin=0.8 * inch,
        title=f"{info.title} · {info.fund_name}", author=info.author, subject=info.period,
        creator="fundapp",
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    doc.build(flowables, canvasmaker=lambda *a, **k: _NumberedCanvas(*a, info=info, **k))
    return buffer.getvalue()
