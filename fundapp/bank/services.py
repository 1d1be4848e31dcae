"""Importing the bank's statements and matching their lines to the books (reading a file is ``reading``; the
pages' lists and the reconciliation at a date are ``reconciliation``).

See the package docstring for the invariants. Functions flush; the request or the command commits.
"""
from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from fundapp.audit.services import record_change, wait_for_writers
from fundapp.bank.models import BankCsvFormat, BankImport, BankMatch, BankStatementLine
from fundapp.bank.reading import (  # noqa: F401 (callers know them here)
    DATE_FORMATS,
    FORMATS,
    MAX_LINES,
    BankError,
    ParsedLine,
    fingerprints,
    parse_csv,
    parse_ofx,
)
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from fundapp.ledger.models import Account, JournalEntry, Posting
from fundapp.money import money_text

BANK_ACCOUNT = "Assets:Bank"
FEE_ACCOUNT = "Expenses:BankFees"
INTEREST_ACCOUNT = "Income:Interest"
#: Days either side of a bank line's date in which a posting is suggested for it.
DEFAULT_WINDOW_DAYS = 5
#: The date layouts a CSV may use (the treasurer picks one): strptime pattern -> an example.
def bank_account(fund: Fund) -> Account:
    return ledger.chart(fund)[BANK_ACCOUNT]


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
    return f"{day.isoformat()} {money_text(cents, fund.currency)}" + (f" ({label})" if label else "")


def import_statement(fund: Fund, data: bytes, *, filename: str, file_format: str, actor=None,
                     layout: BankCsvFormat | None = None, ending_balance_cents: int | None = None,
                     statement_start: date | None = None, statement_end: date | None = None) -> BankImport:
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
    start = statement_start or min([*days, *([statement.period_start] if statement.period_start else [])])
    if start > min(days):
        raise BankError(_("The statement starts on %(start)s but holds lines from %(first)s.", start=start.isoformat(),
                          first=min(days).isoformat()), "statement_start")
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
        raise BankError(_("The entries add up to %(total)s; the bank line is %(amount)s.", total=money_text(total, fund.currency),
                          amount=money_text(line.amount_cents, fund.currency)), "posting")
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
