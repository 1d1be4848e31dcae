"""The fund's reports as PDFs (board report, members' report, grants register, donor list): sections of
headed tables and charts on the shared page style.

Pure: a ``DocumentInfo`` and ``Section`` values in, PDF bytes out. The charts are the
same ReportLab drawings the pages serve as SVG.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from reportlab.graphics.shapes import Drawing
from reportlab.platypus import KeepTogether, Spacer

from reports.style import DocumentInfo, paragraph, render_document, tables

#: Room a section needs below its heading to start on a page: the table's header and a few rows.
START_ROOM = 72


class _KeepWithStart(KeepTogether):
    """A heading with its table: the whole table on the next page when it fits on one, as KeepTogether
    does; a table longer than any page starts right here when its heading and first rows fit, instead of
    leaving the page above it empty but for what came before (a register's first page held only its title)."""

    def split(self, aW, aH):
        if getattr(self, "_wrapInfo", None) != (aW, aH):
            self.wrap(aW, aH)
        frame = getattr(self, "_frame", None)
        if frame is not None and self._H > frame._height and aH >= self._H0 + START_ROOM:
            return self._content[:]
        return super().split(aW, aH)


@dataclass(frozen=True)
class Section:
    heading: str
    note: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    numeric_cols: tuple[int, ...] = ()
    total_row: bool = False
    col_widths: list[float] | None = None
    charts: list[Drawing] = field(default_factory=list)


def render_report(info: DocumentInfo, intro: str, sections: list[Section]) -> bytes:
    story = [paragraph(info.title, "title")]
    if intro:
        story.append(paragraph(intro))
    for section in sections:
        head = [paragraph(section.heading, "heading")]
        if section.note:
            head.append(paragraph(section.note, "small"))
        body = []
        if section.header:
            body = tables(section.header, section.rows, col_widths=section.col_widths,
                          numeric_cols=section.numeric_cols, total_row=section.total_row)
        # A heading never ends a page alone: it keeps company with the start of its table.
        story.append(_KeepWithStart(head + body[:1]))
        story.extend(body[1:])
        for chart in section.charts:
            story += [Spacer(1, 8), chart]
        story.append(Spacer(1, 6))
    return render_document(info, story)
