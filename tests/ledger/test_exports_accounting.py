"""The journal import files for QuickBooks Online and Xero, read back with Python's csv module, and the
treasurer's page that maps our accounts to the union's own chart (issue 17, item 6)."""
from __future__ import annotations

import csv
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

import pytest

from fundapp.audit.models import AuditRecord
from fundapp.extensions import db
from fundapp.ledger import mapping
from fundapp.ledger import services as ledger
from fundapp.ledger.models import AccountMapping
from tests.conftest import sign_in

QB = {"Assets:Stripe": "Stripe Clearing", "Assets:Bank": "Checking:Strike Fund",
      "Income:Donations": "Contributions Income", "Expenses:PaymentFees": "Bank Charges & Fees",
      "Expenses:HardshipGrants": "Grants to Individuals", "Liabilities:GrantsPayable": "Grants Payable"}
XERO = {"Assets:Stripe": "1010", "Assets:Bank": "1000", "Income:Donations": "4000", "Expenses:PaymentFees": "6010",
        "Expenses:HardshipGrants": "6500", "Liabilities:GrantsPayable": "2100"}


def cents(text: str) -> int:
    return int(Decimal(text or "0") * 100)


def read(path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as held:
        return list(csv.DictReader(held))


def map_accounts(fund, quickbooks=QB, xero=XERO):
    mapping.update_account_mappings(fund, {name: (quickbooks.get(name, ""), xero.get(name, ""))
                                           for name in QB.keys() | XERO.keys()}, actor=None)
    db.session.commit()


def movements_by_account(rows, account_key, amount) -> dict[str, int]:
    moved: dict[str, int] = defaultdict(int)
    for row in rows:
        moved[row[account_key]] += amount(row)
    return dict(moved)


def test_quickbooks_file_has_its_columns_each_journal_balances_and_totals_equal_the_books(runner, books, tmp_path):
    map_accounts(books)
    path = tmp_path / "qbo.csv"
    result = runner.invoke(args=["fund", "export-ledger", "--format", "quickbooks", "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert "Assets:Undeposited, Equity:Opening." in result.output  # unmapped: said, and exported as ours
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = read(path)
    assert list(rows[0]) == ["Journal No", "Journal Date", "Account Name", "Debits", "Credits", "Description", "Name"]
    journals: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        journals[row["Journal No"]].append(row)
        assert bool(row["Debits"]) != bool(row["Credits"])  # one side per line
        datetime.strptime(row["Journal Date"], "%m/%d/%Y")
    for number, lines in journals.items():
        assert sum(cents(r["Debits"]) for r in lines) == sum(cents(r["Credits"]) for r in lines), number
        assert len({r["Journal Date"] for r in lines}) == 1
    assert len(journals) == sum(1 for _entry in ledger.entries(books))
    moved = movements_by_account(rows, "Account Name", lambda r: cents(r["Debits"]) - cents(r["Credits"]))
    for name, balance in ledger.balances(books).items():
        assert moved.get(QB.get(name, name), 0) == balance, name
    assert {r["Account Name"] for r in rows} <= set(QB.values())  # everything posted was mapped
    assert any(r["Description"].startswith("'=cmd") for r in rows)  # a formula stays text


def test_xero_file_has_its_columns_each_journal_balances_and_totals_equal_the_books(runner, books, tmp_path):
    map_accounts(books)
    path = tmp_path / "xero.csv"
    result = runner.invoke(args=["fund", "export-ledger", "--format", "xero", "--from", "2026-09-01",
                                 "--to", "2026-09-30", "-o", str(path)])
    assert result.exit_code == 0, result.output
    rows = read(path)
    assert list(rows[0]) == ["Narration", "Date", "Description", "AccountCode", "TaxRate", "Amount"]
    journals: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        journals[(row["Narration"], row["Date"])] += cents(row["Amount"])
        day = datetime.strptime(row["Date"], "%d %b %Y").date()
        assert day.isoformat().startswith("2026-09")
        assert row["TaxRate"] == "Tax Exempt" and row["AccountCode"] in XERO.values()
    assert journals and all(total == 0 for total in journals.values())
    september = sum(1 for _entry in ledger.entries(books, datetime(2026, 9, 1).date(), datetime(2026, 9, 30).date()))
    assert len(journals) == september  # the entry id in each narration keeps same-day entries apart
    moved = movements_by_account(rows, "AccountCode", lambda r: cents(r["Amount"]))
    for name, total in ledger.period_totals(books, datetime(2026, 9, 1).date(), datetime(2026, 9, 30).date()).items():
        assert moved.get(XERO.get(name, name), 0) == total, name


def test_unmapped_accounts_export_under_our_own_name(runner, books, tmp_path):
    path = tmp_path / "qbo.csv"
    assert runner.invoke(args=["fund", "export-ledger", "--format", "quickbooks", "-o", str(path)]).exit_code == 0
    assert {r["Account Name"] for r in read(path)} <= set(ledger.chart(books))
    assert mapping.unmapped(books, "xero") == list(mapping.quickbooks_names(books))


@pytest.fixture
def treasurer(client, create_user, books):
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    return client


def form_for(fund, quickbooks: dict[str, str], xero: dict[str, str]) -> dict[str, str]:
    data = {}
    for m in mapping.account_mappings(fund):
        data[f"qb_{m.account_id}"] = quickbooks.get(m.account, "")
        data[f"xero_{m.account_id}"] = xero.get(m.account, "")
    return data


def test_the_mapping_page_saves_audits_and_names_what_is_unmapped(treasurer, books):
    page = treasurer.get("/admin/ledger/accounts").get_data(as_text=True)
    assert "Not mapped for QuickBooks Online: Assets:Stripe" in page
    response = treasurer.post("/admin/ledger/accounts", data=form_for(books, QB, XERO))
    assert response.status_code == 302
    held = {m.account: (m.quickbooks, m.xero) for m in mapping.account_mappings(books)}
    assert held["Assets:Bank"] == ("Checking:Strike Fund", "1000")
    page = treasurer.get("/admin/ledger/accounts").get_data(as_text=True)
    assert "Not mapped for QuickBooks Online: Assets:Undeposited, Equity:Opening." in page
    records = list(db.session.scalars(db.select(AuditRecord).filter_by(action="ledger.account_mapping")))
    assert len(records) == 1 and records[0].actor_id is not None
    assert records[0].after["Assets:Bank"] == {"quickbooks": "Checking:Strike Fund", "xero": "1000"}
    assert records[0].before["Assets:Bank"] == {"quickbooks": "", "xero": ""}
    # the same values again: nothing saved, nothing audited
    assert treasurer.post("/admin/ledger/accounts", data=form_for(books, QB, XERO)).status_code == 302
    assert db.session.scalar(db.select(db.func.count(AuditRecord.id)).filter_by(action="ledger.account_mapping")) == 1
    download = treasurer.get("/admin/ledger/export?format=quickbooks&from=2026-08-01")
    assert download.status_code == 200 and b"Checking:Strike Fund" in download.data
    assert download.headers["Content-Disposition"].endswith('quickbooks-2026-08-01.csv"')
    assert b"Narration,Date" in treasurer.get("/admin/ledger/export?format=xero").data


@pytest.mark.parametrize("target, value, message", [
    ("xero", "200 Sales", "the code alone"),
    ("xero", "12345678901", "Field cannot be longer than 10 characters"),
    ("quickbooks", "=HYPERLINK(1)", "cannot start with"),
    ("quickbooks", "Checking:", "Parent:Sub"),
    ("quickbooks", "x" * 101, "Field cannot be longer than 100 characters"),
])
def test_a_bad_mapping_is_refused_with_its_message_and_nothing_is_saved(treasurer, books, target, value, message):
    quickbooks, xero = dict(QB), dict(XERO)
    (quickbooks if target == "quickbooks" else xero)["Assets:Bank"] = value
    response = treasurer.post("/admin/ledger/accounts", data=form_for(books, quickbooks, xero))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(AccountMapping.id))) == 0
    assert db.session.scalar(db.select(db.func.count(AuditRecord.id)).filter_by(action="ledger.account_mapping")) == 0


def test_only_the_treasurer_sees_the_mapping_page(client, create_user, books):
    create_user("tom@example.org", "trustee")
    sign_in(client, "tom@example.org")
    assert client.get("/admin/ledger/accounts").status_code == 403
    assert client.post("/admin/ledger/accounts", data={}).status_code == 403
