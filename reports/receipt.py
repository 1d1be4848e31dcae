"""A donor's receipt for one gift (IRS Publication 1771), in the words it is handed (English by default).

``render(ReceiptData) -> bytes``. The receipt carries the organisation's legal
name and EIN, the date and amount, the statement that no goods or services
were given in exchange, and the deductibility wording of the fund's legal
form: a 501(c)(3) gift is deductible; a gift to a 501(c)(5) union is not
deductible as a charitable contribution. The same sentence is the tax statement
on every solicitation (the donate page, Stripe Checkout: 26 U.S.C. 6113), so it
lives here only. A refunded gift gets a corrected
receipt with the same number; so does a gift a lost card dispute took back. The same data gives the same bytes, so a
re-issued receipt is the same file.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from babel.dates import format_date

from reports.style import DocumentInfo, PageWords, amount_text, paragraph, render_document, tables


@dataclass(frozen=True)
class ReceiptWords:
    """A receipt's words in the donor's language. The app hands them over translated (``fundapp.pdf_text``,
    through the catalogue); the defaults are the English, which are also the catalogue's msgids. ``{...}`` are
    filled in here."""

    title: str = "Receipt for your gift"
    corrected: str = "Corrected receipt (a refund was made)"
    corrected_dispute: str = "Corrected receipt (a card dispute was lost)"
    disputed: str = "Disputed and lost: not received"
    number: str = "Receipt number"
    donor: str = "Donor"
    date: str = "Date of the gift"
    amount: str = "Amount of the gift"
    refunded: str = "Refunded to you"
    contribution: str = "Contribution"
    method: str = "Paid by"
    monthly: str = "monthly gift"
    honor: str = "In honor of"
    memory: str = "In memory of"
    card: str = "card (Stripe)"
    cheque: str = "cheque"
    cash: str = "cash"
    no_goods: str = "No goods or services were provided in exchange for this contribution."
    c3: str = ("{legal} is exempt from federal income tax under section 501(c)(3) of the Internal Revenue Code "
               "(EIN {ein}). Your contribution is tax-deductible to the extent allowed by law.")
    c5: str = ("{legal} is a labor organization exempt under section 501(c)(5) of the Internal Revenue Code "
               "(EIN {ein}). Contributions to it are not deductible as charitable contributions for federal "
               "income tax purposes.")
    other: str = "{legal} (EIN {ein}). Ask your tax adviser whether this contribution is deductible."
    thanks: str = ("Thank you. Your gift goes to the fund, which pays emergency grants to striking workers "
                   "decided by trustees under published rules.")
    questions: str = "Questions: {email}"
    signed: str = "For {legal}: {signatory}"
    period: str = "Gift of {date}"

    def dedication(self, kind: str) -> str:
        return {"honor": self.honor, "memory": self.memory}.get(kind, "")

    def method_name(self, method: str) -> str:
        return {"card": self.card, "cheque": self.cheque, "cash": self.cash}.get(method, method)


@dataclass(frozen=True)
class ReceiptData:
    fund_name: str
    legal_name: str
    ein: str
    legal_form: str
    contact_email: str
    receipt_number: str
    donor_name: str
    gift_date: date
    amount_cents: int
    refunded_cents: int
    currency: str
    method: str  # "card", "cheque", "cash"
    monthly: bool
    dedication_kind: str  # "", "honor", "memory"
    dedication_name: str
    language: str
    issued_at: datetime
    #: What a lost card dispute took back: the gift was not received to that extent.
    disputed_cents: int = 0
    #: The fund's postal address (lines joined by newlines); printed when set.
    postal_address: str = ""
    #: Who signs for the fund; printed when the name is set.
    signatory_name: str = ""
    signatory_title: str = ""
    #: The deductibility sentence of an "other" legal form, printed as written (in the fund's own words).
    legal_form_wording: str = ""
    #: The footer's words, in the donor's language.
    page_words: PageWords = PageWords()
    #: The receipt's own words, in the donor's language (``language`` sets only how dates are written).
    words: ReceiptWords = ReceiptWords()

    @property
    def contribution_cents(self) -> int:
        return self.amount_cents - self.refunded_cents - self.disputed_cents


def deductibility_text(words: ReceiptWords, legal_form: str, legal_name: str, ein: str, wording: str = "") -> str:
    """The deductibility sentence for the fund's legal form, in the language of ``words``; for another legal
    form, the fund's own ``wording`` when it wrote one (after its legal name and EIN)."""
    form = legal_form.replace(" ", "").lower()
    if form == "501(c)(3)":
        return words.c3.format(legal=legal_name, ein=ein)
    if form == "501(c)(5)":
        return words.c5.format(legal=legal_name, ein=ein)
    if wording.strip():
        return f"{legal_name} (EIN {ein}). {wording.strip()}"
    return words.other.format(legal=legal_name, ein=ein)


def deductibility(data: ReceiptData) -> str:
    return deductibility_text(data.words, data.legal_form, data.legal_name, data.ein, data.legal_form_wording)


def signature_lines(data: ReceiptData) -> list[str]:
    """"For <legal name>: <name>, <title>" when the fund named a signatory; nothing otherwise."""
    if not data.signatory_name.strip():
        return []
    signatory = ", ".join(part for part in (data.signatory_name.strip(), data.signatory_title.strip()) if part)
    return [data.words.signed.format(legal=data.legal_name, signatory=signatory)]


def render(data: ReceiptData) -> bytes:
    text = data.words
    money = f"{amount_text(data.amount_cents)} {data.currency}"
    rows = [
        [text.number, data.receipt_number],
        [text.donor, data.donor_name],
        [text.date, format_date(data.gift_date, "long", locale="es_US" if data.language == "es" else "en_US")],
        [text.amount, money],
    ]
    if data.refunded_cents:
        rows.append([text.refunded, f"-{amount_text(data.refunded_cents)} {data.currency}"])
    if data.disputed_cents:
        rows.append([text.disputed, f"-{amount_text(data.disputed_cents)} {data.currency}"])
    if data.refunded_cents or data.disputed_cents:
        rows.append([text.contribution, f"{amount_text(data.contribution_cents)} {data.currency}"])
    method = text.method_name(data.method)
    rows.append([text.method, f"{method}, {text.monthly}" if data.monthly else method])
    if text.dedication(data.dedication_kind) and data.dedication_name:
        rows.append([text.dedication(data.dedication_kind), data.dedication_name])
    title = text.corrected_dispute if data.disputed_cents else text.corrected if data.refunded_cents else text.title
    info = DocumentInfo(fund_name=data.fund_name, title=title,
                        period=text.period.format(date=data.gift_date.isoformat()),
                        generated_at=data.issued_at, currency=data.currency, words=data.page_words)
    return render_document(info, [
        paragraph(title, "title"),
        paragraph(data.legal_name, "heading"),
        *[paragraph(line, "small") for line in data.postal_address.splitlines() if line.strip()],
        *tables(["", ""], rows, col_widths=[170, 320]),
        paragraph(text.no_goods, "heading"),
        paragraph(deductibility(data)),
        paragraph(text.thanks),
        *[paragraph(line) for line in signature_lines(data)],
        paragraph(text.questions.format(email=data.contact_email), "small"),
    ])
