"""PDFs with hostile text in the data: very long names, right-to-left script, markup, control characters
and emoji render into a PDF that reads back (the text is kept, never interpreted), or are refused cleanly."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from reports import receipt

HOSTILE = [
    "A" * 5_000,  # one unbreakable 5,000-character name
    "שרה כהן / سارة الأحمد",  # right-to-left scripts
    "\u202eevil.exe\u202c Rosa",  # a right-to-left override
    "<b>bold</b> <a href='x'>link</a> & <para>",  # markup
    "Tab\there\x00nul\x07bell",  # control characters
    "Rosa 🙂✊🏽 Núñez",  # emoji and accents
]


@pytest.mark.parametrize("name", HOSTILE, ids=["long", "rtl", "override", "markup", "control", "emoji"])
def test_a_receipt_renders_hostile_names_or_refuses_cleanly(name):
    data = receipt.ReceiptData(
        fund_name="Strike Fund", legal_name=name, ein="12-3456789", legal_form="501(c)(5)",
        contact_email="fund@example.org", receipt_number="2026-000001", donor_name=name, gift_date=date(2026, 11, 1),
        amount_cents=2_500, refunded_cents=0, currency="USD", method="card", monthly=False,
        dedication_kind="memory", dedication_name=name, language="en",
        issued_at=datetime(2026, 11, 1, tzinfo=UTC))
    pdf = receipt.render(data)
    reader = PdfReader(io.BytesIO(pdf))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "2026-000001" in text and "25.00" in text
    if name.startswith("<b>"):
        assert "<b>bold</b>" in text  # markup shown as text, not applied
