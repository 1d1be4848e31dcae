"""Grant documents: the case file (IRS Publication 3833 record keeping) and the award letter.

Plain data in, PDF bytes out. The case file is for trustees and the auditor (English); the award
letter goes to the member in their language.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo

from babel.dates import format_date

from reports.style import DocumentInfo, PageWords, amount_text, paragraph, render_document, tables


@dataclass(frozen=True)
class CaseFileData:
    fund_name: str
    legal_name: str
    case_id: int
    status: str
    recipient_name: str
    member_number: str
    address: str
    worksite: str
    category: str
    purpose: str
    household: str
    payee: str
    amount_requested_cents: int
    amount_approved_cents: int | None
    amount_paid_cents: int
    currency: str
    submitted: str
    rules_version: int
    rules_summary: str
    decision_note: str
    approvals: Sequence[tuple[str, str, int, str, str]] = field(default_factory=list)  # who, when, cents, criteria, note
    recusals: Sequence[tuple[str, str]] = field(default_factory=list)  # who, why
    relationships: Sequence[tuple[str, str]] = field(default_factory=list)  # trustee, relation
    documents: Sequence[tuple[str, str, int, str]] = field(default_factory=list)  # name, type, bytes, sha256
    payments: Sequence[tuple[str, int, str, str, str, str]] = field(default_factory=list)  # date, cents, method, ref, payee, void
    generated_at: datetime | None = None


def render_case_file(data: CaseFileData) -> bytes:
    money = lambda cents: f"{amount_text(cents)} {data.currency}" if cents is not None else "—"  # noqa: E731
    facts = [
        ["Recipient", f"{data.recipient_name} (member {data.member_number}, {data.worksite})"],
        ["Address", data.address or "—"],
        ["Household", data.household or "—"],
        ["Purpose and category", f"{data.category}: {data.purpose}"],
        ["Paid to", data.payee],
        ["Amount requested", money(data.amount_requested_cents)],
        ["Amount approved", money(data.amount_approved_cents)],
        ["Amount paid", money(data.amount_paid_cents)],
        ["Status", data.status],
        ["Submitted", data.submitted],
        ["Criteria (rules version)", f"version {data.rules_version}: {data.rules_summary}"],
        ["Decision note to the member", data.decision_note or "—"],
    ]
    info = DocumentInfo(fund_name=data.fund_name, title=f"Case file #{data.case_id}", period=data.submitted,
                        generated_at=data.generated_at or datetime.now(UTC), currency=data.currency)
    flow = [paragraph(f"Case file #{data.case_id}", "title"), paragraph(data.legal_name, "heading"),
            *tables(["", ""], [[label, paragraph(value, "small_body")] for label, value in facts], col_widths=[150, 340]),
            paragraph("Who decided, and how the need was assessed", "heading"),
            *tables(["Trustee", "When", "Amount", "Criteria applied", "Note"],
                    [[who, when, amount_text(cents), paragraph(criteria, "small_body"), paragraph(note, "small_body")]
                     for who, when, cents, criteria, note in data.approvals]
                    or [["—", "", "", "", ""]], col_widths=[80, 80, 60, 140, 130], numeric_cols=(2,)),
            paragraph("Declared relationships and recusals", "heading"),
            *tables(["Trustee", "Relationship or reason"],
                    [[who, what] for who, what in [*data.relationships, *data.recusals]] or [["—", "none declared"]],
                    col_widths=[150, 340]),
            paragraph("Documents", "heading"),
            *tables(["Name", "Type", "Bytes", "SHA-256"],
                    [[name, kind, f"{size:,}", digest[:16] + "…"] for name, kind, size, digest in data.documents]
                    or [["—", "", "", ""]], col_widths=[160, 90, 60, 180], numeric_cols=(2,)),
            paragraph("Payments", "heading"),
            *tables(["Date", "Amount", "Method", "Reference", "Payee", "Void"],
                    [[day, amount_text(cents), method, ref, payee, void]
                     for day, cents, method, ref, payee, void in data.payments] or [["—", "", "", "", "", ""]],
                    col_widths=[65, 65, 55, 70, 140, 95], numeric_cols=(1,))]
    return render_document(info, flow)


@dataclass(frozen=True)
class AwardWords:
    """An award letter's words in the member's language, handed over translated by the app
    (``fundapp.pdf_text``); the defaults are the English msgids."""

    title: str = "Your hardship grant"
    dear: str = "Dear {name},"
    body: str = "The trustees of {legal} approved a grant of {amount} for {purpose} (application #{case})."
    partial: str = "You asked for {asked}. {note}"
    payee: str = "To be paid to {payee}."
    paid: str = "Paid to {payee}."
    part_paid: str = "Paid to {payee} so far: {paid}. The rest, {rest}, is to be paid to {payee}."
    close: str = "In solidarity, the trustees of {fund}"
    signed: str = "For {legal}: {signatory}"


@dataclass(frozen=True)
class AwardLetterData:
    fund_name: str
    legal_name: str
    case_id: int
    member_name: str
    purpose: str
    amount_approved_cents: int
    amount_requested_cents: int
    payee: str
    note: str
    currency: str
    language: str
    decided_on: date
    #: The fund's time zone: the letter is stamped at the start of ``decided_on`` there.
    time_zone: tzinfo = UTC
    #: What has been paid (voided payments left out); once it reaches the amount approved the letter says
    #: "Paid to", before that "To be paid to".
    amount_paid_cents: int = 0
    #: The fund's postal address (lines joined by newlines) and who signs for it; printed when set.
    postal_address: str = ""
    signatory_name: str = ""
    signatory_title: str = ""
    #: The footer's words, in the member's language.
    page_words: PageWords = PageWords()
    #: The letter's own words, in the member's language (``language`` sets only how the date is written).
    words: AwardWords = AwardWords()


def render_award_letter(data: AwardLetterData) -> bytes:
    text = data.words
    locale = "es_US" if data.language == "es" else "en_US"
    amount = f"{amount_text(data.amount_approved_cents)} {data.currency}"
    flow = [paragraph(text.title, "title"),
            *[paragraph(line, "small") for line in data.postal_address.splitlines() if line.strip()],
            paragraph(format_date(data.decided_on, "long", locale=locale)),
            paragraph(text.dear.format(name=data.member_name)),
            paragraph(text.body.format(legal=data.legal_name, amount=amount, purpose=data.purpose,
                                          case=data.case_id))]
    if data.amount_approved_cents < data.amount_requested_cents:
        flow.append(paragraph(text.partial.format(
            asked=f"{amount_text(data.amount_requested_cents)} {data.currency}", note=data.note)))
    if data.amount_paid_cents >= data.amount_approved_cents > 0:
        flow.append(paragraph(text.paid.format(payee=data.payee)))
    elif data.amount_paid_cents > 0:
        flow.append(paragraph(text.part_paid.format(
            payee=data.payee, paid=f"{amount_text(data.amount_paid_cents)} {data.currency}",
            rest=f"{amount_text(data.amount_approved_cents - data.amount_paid_cents)} {data.currency}")))
    else:
        flow.append(paragraph(text.payee.format(payee=data.payee)))
    flow.append(paragraph(text.close.format(fund=data.fund_name)))
    if data.signatory_name.strip():
        signatory = ", ".join(part for part in (data.signatory_name.strip(), data.signatory_title.strip()) if part)
        flow.append(paragraph(text.signed.format(legal=data.legal_name, signatory=signatory)))
    info = DocumentInfo(fund_name=data.fund_name, title=text.title, period=f"#{data.case_id}",
                        generated_at=datetime(data.decided_on.year, data.decided_on.month, data.decided_on.day, tzinfo=data.time_zone),
                        currency=data.currency, words=data.page_words)
    return render_document(info, flow)


@dataclass(frozen=True)
class BatchSheetData:
    fund_name: str
    currency: str
    prepared_on: date
    rows: Sequence[tuple[int, str, str, int]]  # case, payee, how to pay them, cents
    generated_at: datetime | None = None


def render_batch_sheet(data: BatchSheetData) -> bytes:
    """The list for the person writing cheques: each payee, how to pay them, the amount, and the total."""
    total = sum(cents for *_rest, cents in data.rows)
    body = [[f"#{case}", paragraph(payee, "small_body"), paragraph(details, "small_body"), amount_text(cents), ""]
            for case, payee, details, cents in data.rows]
    body.append(["", "Total", f"{len(data.rows)} payments", amount_text(total), ""])
    info = DocumentInfo(fund_name=data.fund_name, title="Payment batch", period=data.prepared_on.isoformat(),
                        generated_at=data.generated_at or datetime.now(UTC), currency=data.currency)
    return render_document(info, [
        paragraph("Payment batch", "title"),
        paragraph(f"Prepared {data.prepared_on.isoformat()}. Amounts in {data.currency}. Write the cheque number "
                  "(or transfer reference) beside each line."),
        *tables(["Case", "Payee", "How to pay", "Amount", "Cheque / ref."], body,
                col_widths=[40, 150, 160, 70, 70], numeric_cols=(3,), total_row=True),
    ])
