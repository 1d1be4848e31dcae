"""Importing the bank's statements, matching their lines to the books, and the reconciliation at a date.

See the package docstring for the invariants. Functions flush; the request or the command commits.
"""
from __future__ import annotations

import calendar
import csv
import hashlib
import io
import itertools
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from fundapp.audit.services import record_change, wait_for_writers
from fundapp.bank.models import BankCsvFormat, BankImport, BankMatch, BankStatementLine
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from fundapp.ledger.models import Account, JournalEntry, Posting
from fundapp.money import format_cents

BANK_ACCOUNT = "Assets:Bank"
FEE_ACCOUNT = "Expenses:BankFees"
INTEREST_ACCOUNT = "Income:Interest"
#: Days either side of a bank line's date in which a posting is suggested for it.
DEFAULT_WINDOW_DAYS = 5
#: The date layouts a CSV may use (the treasurer picks one): strptime pattern -> an example.
DATE_FORMATS = {"%Y-%m-%d": "2026-10-31", "%m/%d/%Y": "10/31/2026", "%d/%m/%Y": "31/10/2026",
                "%m/%d/%y": "10/31/26", "%d.%m.%Y": "31.10.2026"}
FORMATS = ("csv", "ofx")
MAX_LINES = 20_000


class BankError(ValueError):
    """A statement or an action the reconciliation refuses; the message says why, for people."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def bank_account(fund: Fund) -> Account:
    return ledger.chart(fund)[BANK_ACCOUNT]


def money(cents: int, fund: Fund) -> str:
    return format_cents(cents, fund.currency)


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


# --- the CSV layout, per fund --------------------------------------------------------------------------


def csv_format(fund: Fund) -> BankCsvFormat | None:
    return db.session.scalar(db.select(BankCsvFormat).filter_by(fund_id=fund.id))


def save_csv_format(fund: Fund, *, date_column: str, date_format: str, description_column: str = "",
                    amount_column: str = "", debit_column: str = "", credit_column: str = "",
                    reference_column: str = "", actor=None) -> BankCsvFormat:
    """Remember which CSV columns hold what (the next import, and ``fund import-bank``, use it)."""
    columns = {"date_column": date_column.strip(), "description_column": description_column.strip(),
               "amount_column": amount_column.strip(), "debit_column": debit_column.strip(),
               "credit_column": credit_column.strip(), "reference_column": reference_column.strip()}
    if not columns["date_column"]:
        raise BankError(_("Name the column that holds the date."), "date_column")
    if date_format not in DATE_FORMATS:
        raise BankError(_("Choose how the dates are written."), "date_format")
    if not columns["amount_column"] and not (columns["debit_column"] and columns["credit_column"]):
        raise BankError(_("Name the amount column, or both the debit and the credit columns."), "amount_column")
    layout = csv_format(fund)
    before = None
    if layout is None:
        layout = BankCsvFormat(fund_id=fund.id)
        db.session.add(layout)
    else:
        before = {name: getattr(layout, name) for name in [*columns, "date_format"]}
    for name, value in columns.items():
        setattr(layout, name, value[:100])
    layout.date_format = date_format
    after = {name: getattr(layout, name) for name in [*columns, "date_format"]}
    if before != after:
        db.session.flush()
        record_change("bank.csv_format", "fund", fund.id, actor=actor, fund_id=fund.id, before=before, after=after)
    return layout


# --- importing -------------------------------------------------------------------------------------------


def _line_text(fund: Fund, day: date, cents: int, reference: str, description: str) -> str:
    label = " ".join(part for part in (reference, description[:40]) if part)
    return f"{day.isoformat()} {money(cents, fund)}" + (f" ({label})" if label else "")


def import_statement(fund: Fund, data: bytes, *, filename: str, file_format: str, actor=None,
                     layout: BankCsvFormat | None = None, ending_balance_cents: int | None = None,
                     statement_end: date | None = None) -> BankImport:
    """Keep a statement's lines, or refuse the whole file: one already imported, or lines already there (named)."""
    if file_format not in FORMATS:
        raise BankError(_("Choose CSV or OFX."), "file_format")
    if not data:
        raise BankError(_("Choose the statement file."), "file")
    account = bank_account(fund)
    wait_for_writers()  # imports, matches and closes of the fund's months happen one at a time
    digest = hashlib.sha256(data).hexdigest()
    earlier = db.session.scalar(db.select(BankImport).filter_by(fund_id=fund.id, account_id=account.id, sha256=digest))
    if earlier is not None:
        raise BankError(_("This file was already imported on %(day)s (import #%(id)s, %(name)s): nothing was "
                          "imported again.", day=earlier.created_at.date().isoformat(), id=earlier.id,
                          name=earlier.filename), "file")
    if file_format == "ofx":
        statement = parse_ofx(data)
        if statement.currency and statement.currency != fund.currency:
            raise BankError(_("The statement is in %(theirs)s; the fund keeps its books in %(ours)s.",
                              theirs=statement.currency, ours=fund.currency), "file")
    else:
        if layout is None:
            raise BankError(_("Say which columns of the CSV hold the date and the amount first."), "date_column")
        statement = parse_csv(data, layout)
    if not statement.lines:
        raise BankError(_("The file holds no transactions."), "file")
    if ending_balance_cents is not None:
        statement.ending_balance_cents = ending_balance_cents
    prints = fingerprints(statement.lines)
    _refuse_overlap(fund, account, statement.lines, prints)
    days = [line.line_date for line in statement.lines]
    start = min([*days, *([statement.period_start] if statement.period_start else [])])
    end = statement_end or statement.period_end or max(days)
    if end < max(days):
        raise BankError(_("The statement ends on %(end)s but holds lines up to %(last)s.", end=end.isoformat(),
                          last=max(days).isoformat()), "statement_end")
    bank_import = BankImport(fund_id=fund.id, account_id=account.id, filename=(filename or "statement")[:200],
                             file_format=file_format, sha256=digest, period_start=start, period_end=end,
                             ending_balance_cents=statement.ending_balance_cents, line_count=len(statement.lines),
                             imported_by_id=getattr(actor, "id", None))
    try:
        with db.session.begin_nested():
            db.session.add(bank_import)
            db.session.flush()
            db.session.add_all([
                BankStatementLine(fund_id=fund.id, account_id=account.id, import_id=bank_import.id,
                                  line_date=line.line_date, amount_cents=line.amount_cents,
                                  description=line.description, reference=line.reference, fitid=line.fitid,
                                  fingerprint=fingerprint, matched_cents=0)
                for line, fingerprint in zip(statement.lines, prints, strict=True)])
    except IntegrityError as exc:  # a concurrent import of the same lines won; say so as the checks above would
        raise BankError(_("These lines were imported at the same moment by someone else: nothing was imported."),
                        "file") from exc
    record_change("bank.import", "bank_import", bank_import.id, actor=actor, fund_id=fund.id,
                  after={"filename": bank_import.filename, "format": file_format, "sha256": digest,
                         "lines": len(statement.lines), "period": [start.isoformat(), end.isoformat()],
                         "ending_balance_cents": bank_import.ending_balance_cents})
    return bank_import


def _refuse_overlap(fund: Fund, account: Account, lines: list[ParsedLine], prints: list[str]) -> None:
    """Refuse a file whose lines (by FITID or fingerprint) are already imported, or repeat a FITID; name them."""
    fitids = [line.fitid for line in lines if line.fitid]
    repeated = sorted({fitid for fitid in fitids if fitids.count(fitid) > 1})
    if repeated:
        raise BankError(_("The file repeats the bank's transaction ids %(ids)s: nothing was imported.",
                          ids=", ".join(repeated[:10])), "file")
    by_id: dict[int, BankStatementLine] = {}
    batch = 500  # a long statement asks in parts: SQLite takes at most 32,766 values in one statement
    for column, values in ((BankStatementLine.fingerprint, prints), (BankStatementLine.fitid, fitids)):
        for start in range(0, len(values), batch):
            for row in db.session.scalars(db.select(BankStatementLine).where(
                    BankStatementLine.fund_id == fund.id, BankStatementLine.account_id == account.id,
                    column.in_(values[start:start + batch]))):
                by_id[row.id] = row
    found = sorted(by_id.values(), key=lambda row: (row.line_date, row.id))
    if found:
        named = "; ".join(_("%(line)s, already in import #%(id)s", id=line.import_id,
                            line=_line_text(fund, line.line_date, line.amount_cents, line.reference, line.description))
                          for line in found[:10])
        more = _(" and %(count)s more", count=len(found) - 10) if len(found) > 10 else ""
        raise BankError(_("%(count)s line(s) of this file are already imported (same bank transaction id, or same "
                          "date, amount and reference): %(lines)s%(more)s. Nothing was imported; export the "
                          "statement from the day after the last import.", count=len(found), lines=named,
                          more=more), "file")


# --- matching --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookPosting:
    """A posting on the bank account, as the matching pages and the report show it."""

    posting_id: int
    entry_id: int
    entry_date: date
    amount_cents: int
    memo: str
    source: str
    reversal_of_id: int | None = None


def _book_postings(fund: Fund, *conditions) -> list[BookPosting]:
    account = bank_account(fund)
    rows = db.session.execute(
        db.select(Posting.id, JournalEntry.id, JournalEntry.entry_date, Posting.amount_cents, JournalEntry.memo,
                  JournalEntry.source_kind, JournalEntry.source_id, JournalEntry.reversal_of_id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(JournalEntry.fund_id == fund.id, Posting.account_id == account.id, *conditions)
        .order_by(JournalEntry.entry_date, Posting.id))
    return [BookPosting(pid, eid, day, cents, memo, f"{kind}:{source}", rev)
            for pid, eid, day, cents, memo, kind, source, rev in rows]


def _unmatched():
    return ~db.exists().where(BankMatch.posting_id == Posting.id)


def first_day(fund: Fund) -> date | None:
    """The first day of the first statement imported: bank postings before it are taken as through the bank
    already (the opening balance the bank and the books agree on)."""
    return db.session.scalar(db.select(db.func.min(BankImport.period_start)).where(BankImport.fund_id == fund.id))


def unmatched_postings(fund: Fund, start: date, end: date) -> list[BookPosting]:
    """Postings on the bank account dated ``start``..``end`` that no bank line accounts for."""
    return _book_postings(fund, JournalEntry.entry_date >= start, JournalEntry.entry_date <= end, _unmatched())


def _reference_hit(line: BankStatementLine, posting: BookPosting) -> bool:
    """Whether the line's reference (a cheque number, a slip, a payout id) appears in the posting's memo or source."""
    reference = line.reference.strip().lower()
    if not reference:
        return False
    haystack = f"{posting.memo} {posting.source}".lower()
    if reference.isdigit():  # a cheque number: as a number of its own, not inside another
        return re.search(rf"(?<!\d){re.escape(reference.lstrip('0') or '0')}(?!\d)", haystack) is not None
    return reference in haystack


@dataclass(frozen=True)
class Suggestion:
    postings: tuple[BookPosting, ...]
    reference_hit: bool
    days_off: int


def suggestions(fund: Fund, line: BankStatementLine, window_days: int = DEFAULT_WINDOW_DAYS,
                candidates: list[BookPosting] | None = None, limit: int = 3) -> list[Suggestion]:
    """Postings (one, or two together for a deposit of two) whose amount is the line's, dated within the window,
    those whose memo carries the line's reference first, then the nearest in date."""
    if line.is_matched:
        return []
    window = timedelta(days=window_days)
    if candidates is None:
        candidates = unmatched_postings(fund, max(line.line_date - window, first_day(fund) or line.line_date),
                                        line.line_date + window)
    near = [p for p in candidates if abs((p.entry_date - line.line_date).days) <= window_days
            and (p.amount_cents > 0) == (line.amount_cents > 0)]
    found = [Suggestion((p,), _reference_hit(line, p), abs((p.entry_date - line.line_date).days))
             for p in near if p.amount_cents == line.amount_cents]
    if not found:
        for pair in itertools.combinations(near[:40], 2):
            if sum(p.amount_cents for p in pair) == line.amount_cents:
                found.append(Suggestion(pair, any(_reference_hit(line, p) for p in pair),
                                        max(abs((p.entry_date - line.line_date).days) for p in pair)))
    found.sort(key=lambda s: (not s.reference_hit, s.days_off, s.postings[0].posting_id))
    return found[:limit]


def _lock_line(fund: Fund, line_id: int) -> BankStatementLine:
    """Claim an unmatched line: a conditional UPDATE that sets it matched (the row's lock until commit)."""
    claimed = db.session.execute(
        db.update(BankStatementLine).where(BankStatementLine.id == line_id, BankStatementLine.fund_id == fund.id,
                                           BankStatementLine.matched_cents == 0)
        .values(matched_cents=BankStatementLine.amount_cents).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise BankError(_("This bank line is already matched. Reload the page."))
    return db.session.scalars(db.select(BankStatementLine).where(BankStatementLine.id == line_id)
                              .execution_options(populate_existing=True)).one()


def match_line(fund: Fund, line_id: int, posting_ids: list[int], *, actor=None) -> list[BankMatch]:
    """Match a bank line to one posting, or split it across several whose amounts add up to the line's."""
    posting_ids = sorted(set(posting_ids))
    if not posting_ids:
        raise BankError(_("Choose the entries in the books that this bank line is."), "posting")
    line = _lock_line(fund, line_id)
    account = bank_account(fund)
    postings = _book_postings(fund, Posting.id.in_(posting_ids))
    if len(postings) != len(posting_ids):
        raise BankError(_("Choose entries on the fund's bank account."), "posting")
    taken = db.session.scalars(db.select(BankMatch.posting_id).where(BankMatch.posting_id.in_(posting_ids))).all()
    if taken:
        raise BankError(_("An entry you chose is already matched to another bank line. Reload the page."), "posting")
    total = sum(p.amount_cents for p in postings)
    if total != line.amount_cents:
        raise BankError(_("The entries add up to %(total)s; the bank line is %(amount)s.", total=money(total, fund),
                          amount=money(line.amount_cents, fund)), "posting")
    kind = "match" if len(postings) == 1 else "split"
    matches = [BankMatch(fund_id=fund.id, line_id=line.id, posting_id=p.posting_id, amount_cents=p.amount_cents,
                         kind=kind, created_by_id=getattr(actor, "id", None)) for p in postings]
    try:
        with db.session.begin_nested():
            db.session.add_all(matches)
    except IntegrityError as exc:  # another treasurer matched one of them at this moment
        raise BankError(_("An entry you chose is already matched to another bank line. Reload the page."),
                        "posting") from exc
    record_change("bank.match", "bank_line", line.id, actor=actor, fund_id=fund.id,
                  after={"kind": kind, "account": account.name, "amount_cents": line.amount_cents,
                         "postings": [[p.posting_id, p.entry_id, p.amount_cents] for p in postings]})
    return matches


def book_bank_item(fund: Fund, line_id: int, kind: str, *, actor=None) -> JournalEntry:
    """Book an unmatched line the books lack (a bank fee, interest) through the ledger, and match it to the entry."""
    if kind not in ("fee", "interest"):
        raise BankError(_("Choose a bank fee or interest."))
    line = _lock_line(fund, line_id)
    if kind == "fee" and line.amount_cents > 0:
        raise BankError(_("Money into the bank is not a fee: book it as interest, or match it."))
    if kind == "interest" and line.amount_cents < 0:
        raise BankError(_("Money out of the bank is not interest: book it as a fee, or match it."))
    other = FEE_ACCOUNT if kind == "fee" else INTEREST_ACCOUNT
    ledger.open_account(fund, other)
    label = "Bank fee" if kind == "fee" else "Bank interest"
    try:
        entry = ledger.post_entry(fund, entry_date=line.line_date, memo=f"{label}: {line.description or line.reference}"
                                  .strip(": "), source_kind="bank.line", source_id=line.id, actor=actor,
                                  postings=[(BANK_ACCOUNT, line.amount_cents), (other, -line.amount_cents)])
    except ledger.LedgerError as exc:
        raise BankError(str(exc)) from exc
    posting = next(p for p in entry.postings if p.account_id == line.account_id)
    if posting.amount_cents != line.amount_cents or db.session.scalar(
            db.select(BankMatch.id).where(BankMatch.posting_id == posting.id)) is not None:
        raise BankError(_("This line's entry in the books is matched elsewhere. Reload the page."))
    db.session.add(BankMatch(fund_id=fund.id, line_id=line.id, posting_id=posting.id, amount_cents=posting.amount_cents,
                             kind=kind, created_by_id=getattr(actor, "id", None)))
    db.session.flush()
    record_change("bank.match", "bank_line", line.id, actor=actor, fund_id=fund.id,
                  after={"kind": kind, "amount_cents": line.amount_cents, "entry": entry.id,
                         "postings": [[posting.id, entry.id, posting.amount_cents]]})
    return entry


def unmatch_line(fund: Fund, line_id: int, *, actor=None) -> None:
    """Undo a line's match while its month, and the months of its entries, are open. A fee or interest entry
    stays in the books: marking the line again matches the same entry."""
    line = db.session.scalars(db.select(BankStatementLine).where(
        BankStatementLine.id == line_id, BankStatementLine.fund_id == fund.id)).one_or_none()
    if line is None or not line.is_matched:
        raise BankError(_("This bank line is not matched."))
    postings = _book_postings(fund, Posting.id.in_([m.posting_id for m in line.matches]))
    for day in [line.line_date, *(p.entry_date for p in postings)]:
        if ledger.is_closed(fund, day):
            raise BankError(_("%(month)s is closed: its matches stay as they are.", month=f"{day:%Y-%m}"))
    wait_for_writers()
    released = db.session.execute(
        db.update(BankStatementLine).where(BankStatementLine.id == line.id,
                                           BankStatementLine.matched_cents == line.amount_cents)
        .values(matched_cents=0).execution_options(synchronize_session=False)).rowcount
    if released != 1:
        raise BankError(_("This bank line is not matched."))
    before = {"kind": line.matches[0].kind if line.matches else None,
              "postings": [[m.posting_id, m.amount_cents] for m in line.matches]}
    db.session.execute(db.delete(BankMatch).where(BankMatch.line_id == line.id))
    db.session.expire(line)
    record_change("bank.unmatch", "bank_line", line.id, actor=actor, fund_id=fund.id, before=before,
                  after={"matched": False})


# --- pages' lists ----------------------------------------------------------------------------------------


def month_bounds(month: str) -> tuple[date, date]:
    year, number = int(month[:4]), int(month[5:])
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def lines_in(fund: Fund, start: date, end: date) -> list[BankStatementLine]:
    return list(db.session.scalars(db.select(BankStatementLine).where(
        BankStatementLine.fund_id == fund.id, BankStatementLine.line_date >= start, BankStatementLine.line_date <= end)
        .order_by(BankStatementLine.line_date, BankStatementLine.id)))


def months_with_lines(fund: Fund) -> list[str]:
    days = db.session.scalars(db.select(BankStatementLine.line_date).where(BankStatementLine.fund_id == fund.id)
                              .distinct())
    return sorted({f"{day:%Y-%m}" for day in days}, reverse=True)


def statements(fund: Fund) -> list[BankImport]:
    return list(db.session.scalars(db.select(BankImport).filter_by(fund_id=fund.id)
                                   .order_by(BankImport.period_end.desc(), BankImport.id.desc())))


def matched_postings(line: BankStatementLine) -> list[BookPosting]:
    fund = db.session.get(Fund, line.fund_id)
    return _book_postings(fund, Posting.id.in_([m.posting_id for m in line.matches])) if line.matches else []


# --- the reconciliation at a date ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenLine:
    """A bank line (or the part of it) the books do not hold by the date."""

    line_id: int
    line_date: date
    amount_cents: int
    description: str
    reference: str


@dataclass
class Reconciliation:
    as_of: date
    #: The ledger's bank account at the end of ``as_of``.
    book_cents: int
    #: The bank's ending balance on the statement ending ``as_of``; None when no statement gives one.
    bank_cents: int | None
    statement: BankImport | None
    #: Money out in the books, not yet through the bank (cheques, ACH, Zelle): negative amounts.
    outstanding: list[BookPosting] = field(default_factory=list)
    #: Money in the books, not yet on the bank's statement (deposits, payouts): positive amounts.
    in_transit: list[BookPosting] = field(default_factory=list)
    #: Bank lines the books lack (fees, interest, anything unmatched).
    unrecorded: list[OpenLine] = field(default_factory=list)
    #: Bank postings before the first statement's period are taken as through the bank already.
    first_day: date | None = None

    @property
    def adjusted_bank_cents(self) -> int | None:
        if self.bank_cents is None:
            return None
        return self.bank_cents + sum(p.amount_cents for p in self.outstanding + self.in_transit)

    @property
    def adjusted_book_cents(self) -> int:
        return self.book_cents + sum(line.amount_cents for line in self.unrecorded)

    @property
    def difference_cents(self) -> int | None:
        """Adjusted bank less adjusted books: 0 when every item is accounted for."""
        adjusted = self.adjusted_bank_cents
        return None if adjusted is None else adjusted - self.adjusted_book_cents


def statement_ending(fund: Fund, as_of: date) -> BankImport | None:
    return db.session.scalar(db.select(BankImport).where(
        BankImport.fund_id == fund.id, BankImport.period_end == as_of, BankImport.ending_balance_cents.is_not(None))
        .order_by(BankImport.id.desc()).limit(1))


def reconcile(fund: Fund, as_of: date) -> Reconciliation:
    """The bank reconciliation at the end of ``as_of``: the books' and the bank's balances and what lies between."""
    statement = statement_ending(fund, as_of)
    start = first_day(fund)
    result = Reconciliation(as_of=as_of, book_cents=ledger.balance(fund, BANK_ACCOUNT, as_of),
                            bank_cents=statement.ending_balance_cents if statement else None, statement=statement,
                            first_day=start)
    if start is None:
        return result
    # A posting counts as through the bank at as_of when a line dated by then accounts for it.
    cleared_by_then = db.exists().where(BankMatch.posting_id == Posting.id, BankMatch.line_id == BankStatementLine.id,
                                        BankStatementLine.line_date <= as_of)
    open_postings = _book_postings(fund, JournalEntry.entry_date >= start, JournalEntry.entry_date <= as_of,
                                   ~cleared_by_then)
    # An entry and its reversal that both never reached the bank cancel out (a payment voided before it cleared).
    ids = {p.entry_id for p in open_postings}
    reversed_pairs = {p.entry_id for p in open_postings if p.reversal_of_id in ids} | \
        {p.reversal_of_id for p in open_postings if p.reversal_of_id in ids}
    for posting in open_postings:
        if posting.entry_id in reversed_pairs:
            continue
        (result.outstanding if posting.amount_cents < 0 else result.in_transit).append(posting)
    # What of each line dated by as_of the books had not recorded by as_of.
    recorded = db.select(db.func.coalesce(db.func.sum(BankMatch.amount_cents), 0)).join(
        Posting, Posting.id == BankMatch.posting_id).join(JournalEntry, JournalEntry.id == Posting.entry_id).where(
        BankMatch.line_id == BankStatementLine.id, JournalEntry.entry_date <= as_of).scalar_subquery()
    rows = db.session.execute(db.select(BankStatementLine, recorded).where(
        BankStatementLine.fund_id == fund.id, BankStatementLine.account_id == bank_account(fund).id,
        BankStatementLine.line_date <= as_of).order_by(BankStatementLine.line_date, BankStatementLine.id))
    for line, recorded_cents in rows:
        recorded_cents = int(recorded_cents)  # PostgreSQL's sum of BIGINT is NUMERIC
        if line.amount_cents != recorded_cents:
            result.unrecorded.append(OpenLine(line.id, line.line_date, line.amount_cents - recorded_cents,
                                              line.description, line.reference))
    return result


def month_status(fund: Fund, month: str) -> dict:
    """The month's reconciliation, for the close: the statement ending in it, the difference there, and how many
    of its bank lines are unmatched. "ready" when a statement ends in the month with a difference of 0 and
    every line of the month is matched, or when the fund does not reconcile with the bank at all, or the month
    ends before its first statement."""
    start, end = month_bounds(month)
    uses_bank = db.session.scalar(db.select(BankImport.id).filter_by(fund_id=fund.id).limit(1)) is not None
    unmatched = db.session.scalar(db.select(db.func.count(BankStatementLine.id)).where(
        BankStatementLine.fund_id == fund.id, BankStatementLine.line_date >= start,
        BankStatementLine.line_date <= end, BankStatementLine.matched_cents == 0)) or 0
    statement = db.session.scalar(db.select(BankImport).where(
        BankImport.fund_id == fund.id, BankImport.period_end >= start, BankImport.period_end <= end,
        BankImport.ending_balance_cents.is_not(None)).order_by(BankImport.period_end.desc(), BankImport.id.desc())
        .limit(1))
    difference = reconcile(fund, statement.period_end).difference_cents if statement is not None else None
    reconciled = statement is not None and difference == 0 and unmatched == 0
    before_bank = uses_bank and end < first_day(fund)
    if not uses_bank:
        summary = _("No bank statement has been imported: there is nothing to reconcile.")
    elif before_bank:
        summary = _("The month ends before the first bank statement imported (from %(first)s): there is nothing "
                    "to reconcile.", first=first_day(fund).isoformat())
    elif reconciled:
        summary = _("Reconciled with the statement ending %(end)s: every bank line is matched and the difference is "
                    "%(difference)s.", end=statement.period_end.isoformat(), difference=money(0, fund))
    elif statement is None:
        summary = _("The bank statement of %(month)s is not reconciled: no statement ending in the month with its "
                    "ending balance is imported, and %(count)s bank line(s) are not matched.", month=month,
                    count=unmatched)
    else:
        summary = _("The bank statement of %(month)s is not reconciled: the difference at %(end)s is %(difference)s "
                    "and %(count)s bank line(s) are not matched.", month=month, end=statement.period_end.isoformat(),
                    difference=money(difference, fund), count=unmatched)
    return {"ready": reconciled or not uses_bank or before_bank, "reconciled": reconciled, "month": month,
            "statement_end": statement.period_end.isoformat() if statement else None,
            "difference_cents": difference, "unmatched_lines": int(unmatched), "summary": summary}


def cleared_entries(fund: Fund, entry_ids: list[int]) -> dict[int, tuple[date, str]]:
    """The bank line that each of these entries' bank postings was matched to (for the payouts page)."""
    if not entry_ids:
        return {}
    rows = db.session.execute(
        db.select(Posting.entry_id, BankStatementLine.line_date, BankStatementLine.description)
        .join(BankMatch, BankMatch.posting_id == Posting.id).join(BankStatementLine, BankStatementLine.id == BankMatch.line_id)
        .where(BankMatch.fund_id == fund.id, Posting.entry_id.in_(entry_ids)))
    return {entry_id: (day, description) for entry_id, day, description in rows}


ledger.CLOSE_CHECKS["bank_reconciliation"] = month_status
ledger.CLEARING.append(cleared_entries)
