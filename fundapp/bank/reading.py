"""Reading a bank's statement file (CSV in the fund's layout, or OFX) into plain lines; nothing is stored here."""
from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _

from fundapp.bank.models import BankCsvFormat

DATE_FORMATS = {"%Y-%m-%d": "2026-10-31", "%m/%d/%Y": "10/31/2026", "%d/%m/%Y": "31/10/2026",
                "%m/%d/%y": "10/31/26", "%d.%m.%Y": "31.10.2026"}
FORMATS = ("csv", "ofx")
MAX_LINES = 20_000


class BankError(ValueError):
    """A statement or an action the reconciliation refuses; the message says why, for people."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


# --- reading statements: plain lines out of a file ---------------------------------------------------


@dataclass
class ParsedLine:
    line_date: date
    amount_cents: int
    description: str = ""
    reference: str = ""
    fitid: str | None = None


@dataclass
class ParsedStatement:
    lines: list[ParsedLine]
    period_start: date | None = None
    period_end: date | None = None
    ending_balance_cents: int | None = None
    currency: str | None = None


def _cents(text: str, where: str) -> int:
    """"1,234.56", "-12.00", "(12.00)", "$5" -> signed cents; anything else is refused, naming where."""
    cleaned = (text or "").strip().replace(",", "").replace("$", "").replace(" ", "")
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    cleaned = cleaned.strip("()")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise BankError(_("%(where)s: %(text)s is not an amount.", where=where, text=text or _("(empty)")),
                        "file") from exc
    if not value.is_finite() or value != value.quantize(Decimal("0.01")) or abs(value) >= Decimal(10) ** 12:
        raise BankError(_("%(where)s: %(text)s is not an amount in cents.", where=where, text=text), "file")
    cents = int(value * 100)
    return -cents if negative else cents


def parse_csv(data: bytes, layout: BankCsvFormat) -> ParsedStatement:
    """The lines of a bank's CSV, read with the fund's column layout (header names, date format)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    rows = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in (rows.fieldnames or [])]
    rows.fieldnames = header
    wanted = [c for c in (layout.date_column, layout.description_column, layout.amount_column, layout.debit_column,
                          layout.credit_column, layout.reference_column) if c]
    missing = [c for c in wanted if c not in header]
    if missing:
        raise BankError(_("The file has no column %(missing)s. Its columns are: %(columns)s.",
                          missing=", ".join(f'"{c}"' for c in missing),
                          columns=", ".join(f'"{c}"' for c in header) or _("none")), "file")
    lines = []
    for number, row in enumerate(rows, start=2):
        if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
            continue
        where = _("Row %(number)s", number=number)
        raw_date = (row.get(layout.date_column) or "").strip()
        try:
            day = datetime.strptime(raw_date, layout.date_format).date()
        except ValueError as exc:
            raise BankError(_("%(where)s: the date %(text)s is not written as %(example)s.", where=where,
                              text=raw_date or _("(empty)"), example=DATE_FORMATS.get(layout.date_format, "")),
                            "file") from exc
        if layout.amount_column:
            cents = _cents(row.get(layout.amount_column) or "", where)
        else:  # separate columns: a debit takes money out of the bank, a credit puts it in
            debit, credit = (row.get(layout.debit_column) or "").strip(), (row.get(layout.credit_column) or "").strip()
            cents = (_cents(credit, where) if credit else 0) - (abs(_cents(debit, where)) if debit else 0)
        if cents == 0:
            continue
        lines.append(ParsedLine(day, cents, (row.get(layout.description_column) or "").strip()[:500]
                                if layout.description_column else "",
                                (row.get(layout.reference_column) or "").strip()[:100] if layout.reference_column else ""))
        if len(lines) > MAX_LINES:
            raise BankError(_("A statement may hold at most %(count)s lines.", count=MAX_LINES), "file")
    return ParsedStatement(lines)


def parse_ofx(data: bytes) -> ParsedStatement:
    """The lines, period and ledger balance of an OFX or QFX bank statement (read by ofxtools)."""
    from ofxtools.Parser import OFXTree

    tree = OFXTree()
    try:
        tree.parse(io.BytesIO(data))
        ofx = tree.convert()
        statements = list(ofx.statements)
    except Exception as exc:  # ofxtools raises many kinds for a file that is not OFX; the reason goes to the page
        raise BankError(_("This is not an OFX or QFX statement ofxtools can read: %(reason)s",
                          reason=str(exc)[:200] or type(exc).__name__), "file") from exc
    if len(statements) != 1 or not hasattr(statements[0], "banktranlist"):
        raise BankError(_("The file should hold one bank account's statement; it holds %(count)s.",
                          count=len(statements)), "file")
    statement = statements[0]
    lines = []
    for tx in statement.banktranlist or []:
        cents = _cents(str(tx.trnamt), tx.fitid or "")
        if cents == 0:
            continue
        reference = tx.checknum or tx.refnum or ""
        description = " ".join(part for part in (tx.name, tx.memo) if part)
        lines.append(ParsedLine(tx.dtposted.date(), cents, description[:500], str(reference)[:100], tx.fitid or None))
    balance = getattr(statement, "ledgerbal", None)
    tranlist = statement.banktranlist
    return ParsedStatement(
        lines, period_start=tranlist.dtstart.date() if tranlist is not None and tranlist.dtstart else None,
        period_end=(balance.dtasof.date() if balance is not None and balance.dtasof else
                    tranlist.dtend.date() if tranlist is not None and tranlist.dtend else None),
        ending_balance_cents=_cents(str(balance.balamt), "LEDGERBAL") if balance is not None else None,
        currency=getattr(statement, "curdef", None))


def fingerprints(lines: list[ParsedLine]) -> list[str]:
    """Each line's fingerprint: its date, amount and reference, and how many such lines came before it in the
    file (two fees of $5 on one day are two lines; the same file read again gives the same fingerprints)."""
    seen: dict[tuple, int] = {}
    result = []
    for line in lines:
        key = (line.line_date.isoformat(), line.amount_cents, re.sub(r"\s+", " ", line.reference.strip().lower()))
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        result.append(hashlib.sha256(f"{key[0]}|{key[1]}|{key[2]}|{occurrence}".encode()).hexdigest())
    return result
