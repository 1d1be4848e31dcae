"""Statements that agree with the books (issue 17, item 3): the statement of activities closes at the
net assets the trial balance shows (assets less liabilities) on the period's last day."""
from __future__ import annotations

import io
import random
import re
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from fundapp.extensions import db
from fundapp.ledger import services as ledger
from fundapp.ledger.models import CHART, AccountType
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


def test_balance_sheet_lists_each_account_and_balances(carried_books):
    position = ledger.financial_position(carried_books, END)
    at_end = ledger.balances(carried_books, END)
    assert position.assets == [(name, at_end[name]) for name in ("Assets:Bank", "Assets:Stripe", "Assets:Undeposited")]
    assert position.liabilities == [("Liabilities:GrantsPayable", 0)]  # every grant was paid by then
    assert position.equity == [("Equity:Opening", 1_500_000)]
    assert position.surplus_cents == -(at_end["Income:Donations"] + at_end["Expenses:PaymentFees"]
                                       + at_end["Expenses:HardshipGrants"])
    assert position.net_assets_cents == 1_500_000 + position.surplus_cents
    assert position.total_liabilities_and_net_assets_cents == position.total_assets_cents
    assert position.net_assets_cents == net_assets_on_trial_balance(carried_books, END)
    # a day with a grant approved and not yet paid has a liability, and still balances
    unpaid = ledger.financial_position(carried_books, date(2026, 8, 23))
    assert unpaid.total_liabilities_cents > 0
    assert unpaid.total_liabilities_and_net_assets_cents == unpaid.total_assets_cents


def figure(text: str, label: str) -> str:
    return re.search(rf"{re.escape(label)}\s+([\d,.-]+)", text).group(1)


def test_the_pdfs_agree_with_each_other_and_with_the_trial_balance(runner, carried_books, tmp_path):
    """Read back with pypdf: the statement of activities' opening and closing net assets are the balance
    sheets' net assets the day before and on the last day, and each is assets less liabilities."""
    def report(*args):
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.pdf"
        result = runner.invoke(args=["fund", "report", *args, "-o", str(path)])
        assert result.exit_code == 0, result.output
        return text_of(path.read_bytes())

    statement = report("activities", "--from", START.isoformat(), "--to", END.isoformat())
    sheet = report("balance-sheet", "--to", END.isoformat())
    before = report("balance-sheet", "--to", (START - timedelta(days=1)).isoformat())
    closing = amount_text(net_assets_on_trial_balance(carried_books, END))
    opening = amount_text(net_assets_on_trial_balance(carried_books, START - timedelta(days=1)))
    assert figure(statement, "Net assets at the end of the period") == figure(sheet, "Total net assets") == closing
    assert figure(statement, "Net assets at the start of the period") == figure(before, "Total net assets") == opening
    assert figure(statement, "Equity:Opening") == "15,000.00"
    position = ledger.financial_position(carried_books, END)
    for account, cents in position.assets:
        assert figure(sheet, account) == amount_text(cents)
    assert figure(sheet, "Total assets") == figure(sheet, "Total liabilities and net assets") \
        == amount_text(position.total_assets_cents)
    assert figure(sheet, "Equity:Opening") == "15,000.00"
    assert figure(sheet, "Accumulated surplus (revenue less expenses to date)") == amount_text(position.surplus_cents)
    assert "Liabilities and net assets equal the assets." in sheet
    assert carried_books.name in sheet and "Statement of financial position" in sheet
    assert re.search(r"2026-11-30 · generated \d{4}-\d\d-\d\d \d\d:\d\d P[SD]T", sheet)  # the fund's zone


def test_balance_sheet_command_is_at_today_without_a_date_and_other_kinds_still_work(runner, carried_books, tmp_path):
    path = tmp_path / "bs.pdf"
    result = runner.invoke(args=["fund", "report", "balance-sheet", "-o", str(path)])
    assert result.exit_code == 0 and "statement of financial position" in result.output
    assert "Total liabilities and net assets" in text_of(path.read_bytes())
    for kind in ("journal", "trial-balance"):
        assert runner.invoke(args=["fund", "report", kind, "-o", str(tmp_path / f"{kind}.pdf")]).exit_code == 0
    unknown = runner.invoke(args=["fund", "report", "balance", "-o", str(path)])
    assert unknown.exit_code == 2 and "balance-sheet" in unknown.output


@pytest.mark.parametrize("language, label, help_text", [
    ("en", "Statement of financial position (balance sheet)", "the statement of financial position are at"),
    ("es", "Estado de situación financiera (balance general)", "el estado de situación financiera son al"),
])
def test_treasurer_downloads_the_balance_sheet_from_the_books_page(client, create_user, carried_books, language,
                                                                   label, help_text):
    from tests.conftest import sign_in

    create_user("tess@example.org", "treasurer", language=language)
    sign_in(client, "tess@example.org")
    page = client.get("/admin/ledger/").get_data(as_text=True)
    assert f'value="balance-sheet">{label}</button>' in page
    assert help_text in page
    response = client.get("/admin/ledger/report?kind=balance-sheet&to=2026-11-30")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].endswith('-balance-sheet-2026-11-30.pdf"')
    assert figure(text_of(response.data), "Total net assets") == amount_text(
        net_assets_on_trial_balance(carried_books, END))


# --- property: on any balanced books and any period, the statements agree with the trial balance ---------

FIRST_DAY, LAST_DAY = date(2026, 8, 25), date(2026, 9, 10)  # a short span, so entries often fall on a period's edges
CHART_NAMES = list(CHART)
leg = st.tuples(st.sampled_from(CHART_NAMES), st.integers(min_value=-10**9, max_value=10**9).filter(bool))
random_entry = st.tuples(
    st.dates(FIRST_DAY, LAST_DAY), st.lists(leg, min_size=1, max_size=4), st.sampled_from(CHART_NAMES),
).filter(lambda e: sum(cents for _name, cents in e[1]) != 0).map(
    lambda e: (e[0], e[1] + [(e[2], -sum(cents for _name, cents in e[1]))]))
random_period = st.tuples(st.dates(FIRST_DAY - timedelta(days=3), LAST_DAY + timedelta(days=3)),
                          st.dates(FIRST_DAY - timedelta(days=3), LAST_DAY + timedelta(days=3))).map(sorted)


def assets_less_liabilities(entries, as_of: date) -> int:
    """The same figure counted in Python from the entries generated, independent of the database's sums."""
    return sum(cents for day, postings in entries if day <= as_of for name, cents in postings
               if name.startswith(("Assets:", "Liabilities:")))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(random_entry, min_size=1, max_size=12), periods=st.lists(random_period, min_size=1,
                                                                                 max_size=3))
def test_statements_agree_with_the_trial_balance_on_any_books(app, entries, periods):
    from fundapp.setup import init_fund
    from tests.conftest import empty_all_tables

    empty_all_tables()  # each example starts from empty books
    fund = init_fund(app.config["FUND_DEFAULTS"]).fund
    for n, (day, postings) in enumerate(entries):
        ledger.post_entry(fund, entry_date=day, memo="random", source_kind="manual", source_id=str(n),
                          postings=postings)
    db.session.commit()
    for start, end in periods:
        found = ledger.activities(fund, start, end)
        day_before = start - timedelta(days=1)
        assert found.net_assets_start_cents == net_assets_on_trial_balance(fund, day_before) \
            == assets_less_liabilities(entries, day_before)
        assert found.net_assets_end_cents == net_assets_on_trial_balance(fund, end) \
            == assets_less_liabilities(entries, end)
        for as_of in (day_before, end):
            position = ledger.financial_position(fund, as_of)
            assert position.total_liabilities_and_net_assets_cents == position.total_assets_cents
            assert position.net_assets_cents == assets_less_liabilities(entries, as_of)
            assert sorted(name for name, _cents in position.assets + position.liabilities + position.equity) == sorted(
                name for name in CHART if name.startswith(("Assets:", "Liabilities:", "Equity:")))  # each one, once
