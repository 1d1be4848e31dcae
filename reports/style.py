"""The shared page style of every fundapp PDF.

``render_document`` lays flowables on US Letter pages whose frame carries the
fund's name and the document's title at the top, and the period, generation
stamp and "page N of M" at the bottom. Output is byte-identical for the same
input (``rl_config.invariant``), so a re-issued document is the same file.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timezone

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph, Table, TableStyle

rl_config.invariant = 1

MARGIN = 0.75 * inch
BRAND = colors.HexColor("#a4161a")
MAX_TABLE_ROWS = 1000  # one platypus Table grows quadratically: split longer tables


@dataclass(frozen=True)
class DocumentInfo:
    fund_name: str
    title: str
    period: str
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    author: str = "fundapp"


def styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=18, leading=22, alignment=0,
                                textColor=BRAND, spaceAfter=12),
        "heading": ParagraphStyle("heading", parent=base["Heading2"], fontSize=13, leading=16, spaceBefore=10),
        "body": ParagraphStyle("body", parent=base["BodyText"], fontSize=10, leading=13),
        "small": ParagraphStyle("small", parent=base["BodyText"], fontSize=8, leading=10, textColor=colors.grey),
    }


def paragraph(text: str, style: str = "body") -> Paragraph:
    """A paragraph of plain text: markup characters in data are escaped, never interpreted."""
    from xml.sax.saxutils import escape

    return Paragraph(escape(text), styles()[style])


def tables(header: list[str], rows: list[list[str]], col_widths=None, numeric_cols=()) -> list[Table]:
    """A long table as several tables of at most MAX_TABLE_ROWS rows, each repeating the header."""
    chunks = [rows[i:i + MAX_TABLE_ROWS] for i in range(0, len(rows), MAX_TABLE_ROWS)] or [[]]
    result = []
    for chunk in chunks:
        table = Table([header, *chunk], colWidths=col_widths, repeatRows=1)
        commands = [
            ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
            ("FONT", (0, 1), (-1, -1), "Helvetica", 9),
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f3f1ec")]),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
        commands += [("ALIGN", (c, 0), (c, -1), "RIGHT") for c in numeric_cols]
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
            self._draw_frame(number, total)
            super().showPage()
        super().save()

    def _draw_frame(self, number: int, total: int) -> None:
        info = self._info
        width, height = self._pagesize
        self.saveState()
        self.setFillColor(BRAND)
        self.setFont("Helvetica-Bold", 10)
        self.drawString(MARGIN, height - 0.5 * inch, info.fund_name)
        self.setFillColor(colors.black)
        self.setFont("Helvetica", 9)
        self.drawRightString(width - MARGIN, height - 0.5 * inch, info.title)
        self.setStrokeColor(colors.lightgrey)
        self.line(MARGIN, height - 0.58 * inch, width - MARGIN, height - 0.58 * inch)
        self.setFont("Helvetica", 8)
        self.setFillColor(colors.grey)
        stamp = info.generated_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        self.drawString(MARGIN, 0.45 * inch, f"{info.period} · generated {stamp}")
        self.drawRightString(width - MARGIN, 0.45 * inch, f"page {number} of {total}")
        self.restoreState()


def render_document(info: DocumentInfo, flowables: list) -> bytes:
    """Lay ``flowables`` on framed pages and return the PDF's bytes."""
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
