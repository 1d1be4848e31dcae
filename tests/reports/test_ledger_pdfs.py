"""The ledger PDFs as pure functions: plain data in, bytes out, read back with pypdf."""
from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from pypdf import PdfReader

from reports.ledger import (
    ActivityStatement,
    BalanceSheet,
    JournalLine,
    TrialBalanceRow,
    normal_balance,
    render_activities,
    render_balance_sheet,
    render_journal,
    render_trial_balance,
)
from reports.style import DocumentInfo, amount_text

INFO = DocumentInfo(fund_name="Local 7 Hardship Fund", title="Journal by account", period="2026-01-01 to 2026-12-31",
                    generated_at=datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
HEADER = re.compile(r"Date\s+Entry\s+Memo\s+Debit\s+Credit\s+Balance")
PAGE = re.compile(r"page (\d+) of\s*(\d+)")


def synthetic_books(entries: int):
    """``entries`` gifts and grants as journal lines in the journal's order, with the expected balances."""
    per_account: dict[str, list[JournalLine]] = {"Assets:Bank": [], "Expenses:HardshipGrants": [],
                                                  "Income:Donations": []}
    day = date(2026, 1, 1)
    for n in range(1, entries + 1):
        day = date(2026, 1, 1) + timedelta(days=n * 365 // (entries + 1))
        cents = 1_000 + (n * 7_919) % 90_000
        if n % 4 == 0:  # a grant paid from the bank
            legs = [("Expenses:HardshipGrants", cents), ("Assets:Bank", -cents)]
        else:
            legs = [("Assets:Bank", cents), ("Income:Donations", -cents)]
        for account, amount in legs:
            per_account[account].append(JournalLine(account, day, n, f"Entry {n} <b>&amp;</b>", amount))
    lines = [line for account in sorted(per_account) for line in per_account[account]]
    totals = {account: sum(line.amount_cents for line in rows) for account, rows in per_account.items()}
    return lines, totals


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_journal_of_10000_entries_has_the_header_and_page_count_on_every_page():
    lines, totals = synthetic_books(10_000)
    openings = {"Assets:Bank": 500_000, "Expenses:HardshipGrants": 0, "Income:Donations": -500_000}
    pdf = render_journal(INFO, openings, iter(lines))  # an iterator: the journal reads it once
    texts = pages_text(pdf)
    assert len(texts) > 100
    for number, text in enumerate(texts, start=1):
        assert HEADER.search(text), f"no column header on page {number}"
        assert PAGE.search(text).groups() == (str(number), str(len(texts)))
        assert "Local 7 Hardship Fund" in text and "2026-01-01 to 2026-12-31" in text
    whole = "\n".join(texts)
    for account, moved in totals.items():
        closing = normal_balance(account, openings[account] + moved)
        found = re.search(re.escape(account) + r"(?: \(continued\))?\s.*?Closing balance · (\d+) postings\s+"
                          r"([\d,.-]+)\s+([\d,.-]+)\s+([\d,.-]+)", whole, re.S)
        assert found is not None, account
        assert found.group(4) == amount_text(closing)
    assert "Assets:Bank (continued)" in whole  # a long account says so at the top of the next page
    assert "Entry 1 <b>&amp;</b>" in whole  # markup in data is text


def test_journal_running_balance_follows_each_posting():
    lines = [JournalLine("Assets:Bank", date(2026, 3, 1), 1, "gift", 10_000),
             JournalLine("Assets:Bank", date(2026, 3, 2), 2, "grant", -2_550),
             JournalLine("Income:Donations", date(2026, 3, 1), 1, "gift", -10_000)]
    text = "\n".join(pages_text(render_journal(INFO, {"Assets:Bank": 0, "Income:Donations": 0,
                                                      "Liabilities:GrantsPayable": 0}, lines)))
    assert re.search(r"2026-03-01\s+1\s+gift\s+100.00\s+100.00", text)
    assert re.search(r"2026-03-02\s+2\s+grant\s+25.50\s+74.50", text)
    assert re.search(r"Closing balance · 2 postings\s+100.00\s+25.50\s+74.50", text)
    assert re.search(r"Closing balance · 1 postings\s+0.00\s+100.00\s+100.00", text)  # income on its credit side
    assert "Liabilities:GrantsPayable" in text  # an account without activity still shows


def test_journal_cuts_a_long_memo_to_its_column_and_refuses_lines_out_of_order():
    memo = "Rent help for a family of five " * 20
    text = pages_text(render_journal(INFO, {"Assets:Bank": 0, "Income:Donations": 0},
                                     [JournalLine("Assets:Bank", date(2026, 3, 1), 1, memo, 100),
                                      JournalLine("Income:Donations", date(2026, 3, 1), 1, memo, -100)]))[0]
    assert "Rent help for a family" in text and "…" in text
    assert memo.strip() not in text
    with pytest.raises(ValueError, match="out of account order"):
        render_journal(INFO, {"Assets:Bank": 0, "Income:Donations": 0},
                       [JournalLine("Income:Donations", date(2026, 3, 1), 1, "x", -100),
                        JournalLine("Assets:Bank", date(2026, 3, 1), 1, "x", 100)])


def test_journal_is_byte_identical_for_the_same_input():
    lines, _ = synthetic_books(200)
    openings = {"Assets:Bank": 0, "Expenses:HardshipGrants": 0, "Income:Donations": 0}
    assert render_journal(INFO, openings, lines) == render_journal(INFO, openings, lines)


def test_trial_balance_shows_totals_and_says_whether_they_agree():
    rows = [TrialBalanceRow("Assets:Bank", 1_234_567, 0), TrialBalanceRow("Income:Donations", 0, 1_234_567)]
    text = pages_text(render_trial_balance(INFO, rows))[0]
    assert re.search(r"Total\s+12,345.67\s+12,345.67", text)
    assert "Debits equal credits." in text
    broken = pages_text(render_trial_balance(INFO, [*rows, TrialBalanceRow("Assets:Stripe", 1, 0)]))[0]
    assert "OUT OF BALANCE by 0.01" in broken


def test_statement_of_activities_adds_up():
    statement = ActivityStatement(revenue=[("Income:Donations", 1_000_000)],
                                  expenses=[("Expenses:HardshipGrants", 600_000), ("Expenses:PaymentFees", 32_150)],
                                  net_assets_start_cents=250_000)
    text = pages_text(render_activities(INFO, statement))[0]
    assert re.search(r"Total revenue\s+10,000.00", text)
    assert re.search(r"Total expenses\s+6,321.50", text)
    assert re.search(r"Net assets at the start of the period\s+2,500.00", text)
    assert re.search(r"Change in net assets \(revenue less expenses\)\s+3,678.50", text)
    assert re.search(r"Net assets at the end of the period\s+6,178.50", text)
    assert "equity entries" not in text  # no equity line when no equity account moved


def test_statement_of_activities_adds_the_periods_equity_entries_to_net_assets():
    statement = ActivityStatement(revenue=[("Income:Donations", 1_000_000)],
                                  expenses=[("Expenses:HardshipGrants", 600_000)],
                                  net_assets_start_cents=0, equity=[("Equity:Opening", 1_500_000)])
    text = pages_text(render_activities(INFO, statement))[0]
    assert re.search(r"Change in net assets \(revenue less expenses\)\s+4,000.00", text)
    assert re.search(r"Opening balances and other equity entries in the period\s+Equity:Opening\s+15,000.00", text)
    assert re.search(r"Net assets at the end of the period\s+19,000.00", text)


def test_balance_sheet_lists_each_account_and_balances():
    sheet = BalanceSheet(assets=[("Assets:Bank", 2_500_000), ("Assets:Stripe", 514_427)],
                         liabilities=[("Liabilities:GrantsPayable", 40_000)], equity=[("Equity:Opening", 1_500_000)],
                         surplus_cents=1_474_427)
    text = pages_text(render_balance_sheet(INFO, sheet))[0]
    assert re.search(r"Assets:Bank\s+25,000.00\s+Assets:Stripe\s+5,144.27\s+Total assets\s+30,144.27", text)
    assert re.search(r"Liabilities:GrantsPayable\s+400.00\s+Total liabilities\s+400.00", text)
    assert re.search(r"Equity:Opening\s+15,000.00\s+Accumulated surplus \(revenue less expenses to date\)\s+14,744.27"
                     r"\s+Total net assets\s+29,744.27\s+Total liabilities and net assets\s+30,144.27", text)
    assert "Liabilities and net assets equal the assets." in text


def test_balance_sheet_out_of_balance_says_so():
    sheet = BalanceSheet(assets=[("Assets:Bank", 10_000)], liabilities=[], equity=[], surplus_cents=9_999)
    assert "OUT OF BALANCE by 0.01." in pages_text(render_balance_sheet(INFO, sheet))[0]


@pytest.mark.parametrize("cents, text", [(0, "0.00"), (5, "0.05"), (-5, "-0.05"), (123_456_789, "1,234,567.89"),
                                         (-100, "-1.00")])
def test_amount_text(cents, text):
    assert amount_text(cents) == text
