"""The books as files other tools check: CSV (one row per posting) and Beancount.

Both stream entries from the database and write as they go, so a large ledger
never sits in memory. Text cells that a spreadsheet would run as a formula are
neutralised; amounts are plain decimals.
"""
from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date
from typing import TextIO

from fundapp.funds.models import Fund
from fundapp.ledger.models import CHART
from fundapp.ledger.services import chart, entries
from fundapp.money import decimal_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """Keep spreadsheets from running a cell as a formula ("=cmd|..." becomes "'=cmd|...")."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(fund: Fund, out: TextIO, start: date | None = None, end: date | None = None) -> int:
    """One row per posting; returns the number of rows. ``out`` should be opened with newline=""."""
    writer = csv.writer(out)
    writer.writerow(["entry_id", "date", "account", "debit", "credit", "memo", "source"])
    names = {account.id: account.name for account in chart(fund).values()}
    rows = 0
    for entry in entries(fund, start, end):
        for posting in entry.postings:
            amount = posting.amount_cents
            writer.writerow([
                entry.id, entry.entry_date.isoformat(), names[posting.account_id],
                decimal_text(amount) if amount > 0 else "", decimal_text(-amount) if amount < 0 else "",
                safe_cell(entry.memo), safe_cell(f"{entry.source_kind}:{entry.source_id}"),
            ])
            rows += 1
    return rows


def _quote(text: str) -> str:
    return '"' + " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_beancount(fund: Fund, out: TextIO, start: date | None = None, end: date | None = None) -> int:
    """A Beancount 3 file that opens every account and writes every entry; returns the entry count."""
    out.write(f"; {fund.name}: books exported by fundapp\n")
    out.write(f"option \"title\" {_quote(fund.name)}\n")
    out.write(f"option \"operating_currency\" \"{fund.currency}\"\n\n")
    return _beancount_books(fund, out, start, end, lambda name: name)


def write_host_beancount(funds: list[Fund], title: str, out: TextIO) -> int:
    """The host's books: every fund's in one Beancount 3 file, each fund its own account tree
    (``Assets:Unit-2:Stripe``), so each tree balances alone and the whole is their sum; returns the entry count."""
    currencies = {fund.currency for fund in funds}
    if len(currencies) != 1:
        raise ValueError(f"the funds keep their books in several currencies ({', '.join(sorted(currencies))})")
    out.write(f"; {title}: every fund's books, exported by fundapp\n")
    out.write(f"option \"title\" {_quote(title)}\n")
    out.write(f"option \"operating_currency\" \"{currencies.pop()}\"\n\n")
    count = 0
    for fund in funds:
        out.write(f"; --- {fund.name} ({fund.slug}) ---\n")
        count += _beancount_books(fund, out, None, None, _in_tree(fund_tree(fund.slug)))
    return count


def fund_tree(slug: str) -> str:
    """A fund's slug as a Beancount account name's component: "unit-2" -> "Unit-2" (one that starts with a
    capital or a digit)."""
    return slug[:1].upper() + slug[1:]


def _in_tree(tree: str) -> Callable[[str], str]:
    def rename(name: str) -> str:
        return tree_account(name, tree)

    return rename


def tree_account(name: str, tree: str) -> str:
    """A fund's account in the host's books: "Assets:Stripe" of "Unit-2" -> "Assets:Unit-2:Stripe"."""
    root, _colon, rest = name.partition(":")
    return f"{root}:{tree}:{rest}"


def _beancount_books(fund: Fund, out: TextIO, start: date | None, end: date | None,
                     rename: Callable[[str], str]) -> int:
    currency = fund.currency
    accounts = chart(fund)
    opened = start or date(1970, 1, 1)
    for name in sorted(accounts, key=lambda n: (n not in CHART, n)):
        out.write(f"{opened.isoformat()} open {rename(name)} {currency}\n")
    out.write("\n")
    names = {account.id: rename(account.name) for account in accounts.values()}
    count = 0
    for entry in entries(fund, start, end):
        out.write(f"{entry.entry_date.isoformat()} * {_quote(entry.memo)}\n")
        out.write(f"  entry_id: \"{entry.id}\"\n")
        out.write(f"  source: {_quote(entry.source_kind + ':' + entry.source_id)}\n")
        if entry.reversal_of_id is not None:
            out.write(f"  reversal_of: \"{entry.reversal_of_id}\"\n")
        for posting in entry.postings:
            out.write(f"  {names[posting.account_id]:<32} {decimal_text(posting.amount_cents):>16} {currency}\n")
        out.write("\n")
        count += 1
    return count


# --- journal import files for the union's own accounting software -------------------------------------------

#: The columns of QuickBooks Online's journal entry import (Settings > Import data > Journal entries): lines
#: with the same Journal No make one entry, whose debits and credits must be equal.
QUICKBOOKS_HEADER = ["Journal No", "Journal Date", "Account Name", "Debits", "Credits", "Description", "Name"]
#: The columns of Xero's manual journal import (Manual Journals > Import): lines with the same Narration and
#: Date make one journal; Amount is positive for a debit, negative for a credit.
XERO_HEADER = ["Narration", "Date", "Description", "AccountCode", "TaxRate", "Amount"]
#: The tax rate every line carries in Xero: grants and gifts carry no sales tax.
XERO_TAX_RATE = "Tax Exempt"
#: Lines Xero takes in one import file.
XERO_MAX_LINES = 300
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def quickbooks_date(day: date) -> str:
    """QuickBooks Online (US) reads MM/DD/YYYY."""
    return f"{day.month:02d}/{day.day:02d}/{day.year}"


def xero_date(day: date) -> str:
    """Xero reads "dd mmm yyyy" in every region ("05 Jan 2026"), where 05/01/2026 would mean two days."""
    return f"{day.day:02d} {MONTHS[day.month - 1]} {day.year}"


def write_quickbooks(fund: Fund, out: TextIO, accounts: dict[str, str], start: date | None = None,
                     end: date | None = None) -> tuple[int, int]:
    """Every entry as a QuickBooks Online journal entry (Journal No: our entry id), each posting on the account
    ``accounts`` maps it to; returns (entries, lines). ``out`` should be opened with newline=""."""
    writer = csv.writer(out)
    writer.writerow(QUICKBOOKS_HEADER)
    names = {account.id: account.name for account in chart(fund).values()}
    count = lines = 0
    for entry in entries(fund, start, end):
        for posting in entry.postings:
            amount = posting.amount_cents
            writer.writerow([entry.id, quickbooks_date(entry.entry_date),
                             safe_cell(accounts.get(names[posting.account_id], names[posting.account_id])),
                             decimal_text(amount) if amount > 0 else "", decimal_text(-amount) if amount < 0 else "",
                             safe_cell(" ".join(entry.memo.split())), ""])
            lines += 1
        count += 1
    return count, lines


def write_xero(fund: Fund, out: TextIO, codes: dict[str, str], start: date | None = None,
               end: date | None = None) -> tuple[int, int]:
    """Every entry as a Xero manual journal (its Narration ends with our entry id, so two entries of one day
    with the same memo stay two journals), each posting on the account code ``codes`` maps it to; returns
    (entries, lines)."""
    writer = csv.writer(out)
    writer.writerow(XERO_HEADER)
    names = {account.id: account.name for account in chart(fund).values()}
    count = lines = 0
    for entry in entries(fund, start, end):
        memo = " ".join(entry.memo.split())
        narration = safe_cell(f"{memo} (entry {entry.id})")
        for posting in entry.postings:
            name = names[posting.account_id]
            writer.writerow([narration, xero_date(entry.entry_date), safe_cell(memo), safe_cell(codes.get(name, name)),
                             XERO_TAX_RATE, decimal_text(posting.amount_cents)])
            lines += 1
        count += 1
    return count, lines
