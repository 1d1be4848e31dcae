"""The canvas drawn straight into its file writes the bytes ReportLab's own save writes for the same drawing."""
from __future__ import annotations

import io
import os

import pytest
from reportlab.lib.pagesizes import LETTER

from reports import fonts
from reports.ledger import JournalLine, draw_journal, render_journal, write_journal
from reports.streaming import StreamingCanvas
from tests.reports.test_ledger_pdfs import INFO, synthetic_books

OPENINGS = {"Assets:Bank": 500_000, "Equity:Opening": 0, "Expenses:HardshipGrants": 0, "Income:Donations": -500_000}


def journal_lines() -> list[JournalLine]:
    """Some 40 pages, every seventh entry's memo in scripts that need the fallback fonts."""
    lines, _ = synthetic_books(1_200)
    return [line if line.entry_id % 7 else
            JournalLine(line.account, line.entry_date, line.entry_id, "Łódź · Nguyễn · 张伟 · שלום", line.amount_cents)
            for line in lines]


def reportlab_save(lines: list[JournalLine]) -> bytes:
    """The same journal drawn on the same canvas, saved by ReportLab itself (``getpdfdata``: what its save writes)."""
    fonts.register()
    canvas = StreamingCanvas(io.BytesIO(), pagesize=LETTER, invariant=1)
    draw_journal(canvas, INFO, OPENINGS, lines)
    return canvas.getpdfdata()


def test_the_journal_saved_object_by_object_is_reportlabs_own_save_byte_for_byte():
    lines = journal_lines()
    expected = reportlab_save(lines)
    assert render_journal(INFO, OPENINGS, lines) == expected
    assert expected.count(b"/Type /Page\n") > 30  # pages enough that a wrong offset would show


def test_drawn_into_a_file_the_pages_wait_in_a_spool_and_the_file_is_the_same(tmp_path):
    lines = journal_lines()
    path = tmp_path / "journal.pdf"
    with open(path, "wb") as out:
        assert StreamingCanvas(out)._spool is not None and StreamingCanvas(io.BytesIO())._spool is None
        write_journal(INFO, OPENINGS, lines, out)
    assert path.read_bytes() == reportlab_save(lines)
    assert os.listdir(tmp_path) == ["journal.pdf"]  # the spool was unnamed and is gone


def test_an_encrypted_canvas_is_refused_rather_than_written_wrongly():
    canvas = StreamingCanvas(io.BytesIO(), pagesize=LETTER, invariant=1, encrypt="secret")
    canvas.drawString(72, 720, "x")
    with pytest.raises(ValueError, match="encrypted or signed"):
        canvas.save()
