"""Statements that agree with the books (issue 17, item 3): the statement of activities closes at the
net assets the trial balance shows (assets less liabilities) on the period's last day."""
from __future__ import annotations

import io
import random
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader

from fundapp.extensions import db
from fundapp.ledger import services as ledger
from fundapp.ledger.models import AccountType
from reports.style import amount_text

START, END = date(2026, 9, 1), date(2026, 11, 30)


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def net_assets_on_trial_balance(fund, as_of: date) -> int:
    """Assets less liabilities, read off the trial balance's lines as a treasurer would."""
    lines = ledger.trial_balance(fund, as_of)
    assets = sum(line.debit_cents - line.credit_cents for line in lines if line.type is AccountType.ASSETS)
    liabilities = sum(line.credit_cents - line.debit_cents for line in lines if line.type is AccountType.LIABILITIES)
    return assets - liabilities


@pytest.fixture
def carried_books(fund):
    """The treasurer's books: card gifts from August, the union's strike account carried in as an opening
    balance on 1 September (the first day of the period asked for), then gifts with Stripe's fee,
    cheques, payouts, and grants approved and paid until the end of November, all paid by then."""
    rng = random.Random(17)

    def post(day, kind, source, postings):
        ledger.post_entry(fund, entry_date=day, memo=f"{kind} {source}", source_kind=kind, source_id=source,
                          postings=postings)

    day = date(2026, 8, 20)
    n = 0
    while day <= END:
        if day == START:
            post(day, "opening", "1", [("Assets:Bank", 1_500_000), ("Equity:Opening", -1_500_000)])
        gross = rng.randint(1_000, 40_000)
        fee = gross * 29 // 1000 + 30
        post(day, "stripe.charge", f"ch_{n}", [("Assets:Stripe", gross - fee), ("Expenses:PaymentFees", fee),
                                               ("Income:Donations", -gross)])
        if n % 4 == 0:
            post(day, "cheque", str(n), [("Assets:Undeposited", 5_000), ("Income:Donations", -5_000)])
        if n % 7 == 3:
            grant = rng.randint(5_000, 30_000)
            post(day, "grant.approval", str(n), [("Expenses:HardshipGrants", grant),
                                                 ("Liabilities:GrantsPayable", -grant)])
            post(day + timedelta(days=1), "grant.payment", str(n), [("Liabilities:GrantsPayable", grant),
                                                                      ("Assets:Bank", -grant)])
        if n % 14 == 13:
            post(day, "stripe.payout", f"po_{n}", [("Assets:Bank", 50_000), ("Assets:Stripe", -50_000)])
        day += timedelta(days=1)
        n += 1
    db.session.commit()
    return fund


def test_statement_of_activities_pdf_closes_at_the_trial_balances_net_assets(runner, carried_books, tmp_path):
    """The treasurer's report: 2026-09-01 to 2026-11-30, with the opening balance booked on the first day."""
    path = tmp_path / "activities.pdf"
    result = runner.invoke(args=["fund", "report", "activities", "--from", START.isoformat(), "--to",
                                 END.isoformat(), "-o", str(path)])
    assert result.exit_code == 0, result.output
    text = text_of(path.read_bytes())
    tb = ledger.trial_balance(carried_books, END)
    assert not any(line.type is AccountType.LIABILITIES and (line.debit_cents or line.credit_cents) for line in tb)
    closing = net_assets_on_trial_balance(carried_books, END)
    shown = re.search(r"Net assets at the end of the period\s+([\d,.-]+)", text).group(1)
    assert shown == amount_text(closing)


def test_activities_open_and_close_at_the_trial_balances_net_assets(carried_books):
    found = ledger.activities(carried_books, START, END)
    assert found.net_assets_start_cents == net_assets_on_trial_balance(carried_books, START - timedelta(days=1)) > 0
    assert found.net_assets_end_cents == net_assets_on_trial_balance(carried_books, END)
    assert found.equity == [("Equity:Opening", 1_500_000)]  # the opening balance carried in on the first day
    moved = ledger.period_totals(carried_books, START, END)
    assert found.change_cents == -moved["Income:Donations"] - moved["Expenses:PaymentFees"] \
        - moved["Expenses:HardshipGrants"]
