"""A fund's October and November 2026 on the bank account, booked through the same services as the pages
(Stripe payouts, cheques deposited, grant payments by cheque and Zelle), and the bank's statements of them in
tests/bank/data: 2026-10.ofx (OFX, with the bank's ending balance) and 2026-11.csv (a CSV with debit and credit
columns)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from fundapp.bank import services as bank
from fundapp.donations import booking, offline
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from fundapp.payments.facts import PayoutFact
from tests.conftest import sign_in

DATA = Path(__file__).parent / "data"
OPENING = 1_500_000
#: What the books say at the end of October before the bank's fee and interest are booked.
BOOKS_OCTOBER = OPENING + 48_210 + 35_000 + 12_000 + 8_000 - 50_000 - 25_000 - 30_000


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


def pay_grant(fund, day: date, cents: int, memo: str, source: str) -> None:
    """A grant approved and paid, as ``review.services`` books them (the memo in its words)."""
    ledger.post_entry(fund, entry_date=day, memo=f"Grant approved #{source}", source_kind="grant.approval",
                      source_id=source, postings=[("Expenses:HardshipGrants", cents), ("Liabilities:GrantsPayable", -cents)])
    ledger.post_entry(fund, entry_date=day, memo=memo, source_kind="grant.payment", source_id=source,
                      postings=[("Liabilities:GrantsPayable", cents), ("Assets:Bank", -cents)])


def deposit(fund, day: date, slip: str, gifts: list[tuple[int, str, str]]):
    made = [offline.record_offline_gift(fund, name="Donor", email="donor@example.org", amount_cents=cents,
                                          received_on=day, method=method, reference=ref, notify=False)
            for cents, method, ref in gifts]
    return offline.record_deposit(fund, [gift.id for gift in made], deposited_on=day, reference=slip)


@pytest.fixture
def books(fund):
    ledger.post_entry(fund, entry_date=date(2026, 9, 30), memo="Opening balance", source_kind="opening",
                      source_id="1", postings=[("Assets:Bank", OPENING), ("Equity:Opening", -OPENING)])
    ledger.post_entry(fund, entry_date=date(2026, 10, 1), memo="card gifts", source_kind="stripe.charge",
                      source_id="ch_1", postings=[("Assets:Stripe", 48_210), ("Expenses:PaymentFees", 1_790),
                                                  ("Income:Donations", -50_000)])
    booking.record_payout(fund, PayoutFact("po_demo_1", 48_210, "USD", date(2026, 10, 2), "paid"))
    deposit(fund, date(2026, 10, 6), "slip 12", [(25_000, "cheque", "1001"), (10_000, "cheque", "1002")])
    pay_grant(fund, date(2026, 10, 12), 50_000, "Grant payment to Ana Garcia (cheque 2001)", "1")
    deposit(fund, date(2026, 10, 13), "slip 13", [(12_000, "cash", "")])
    deposit(fund, date(2026, 10, 13), "slip 14", [(8_000, "cheque", "1003")])
    pay_grant(fund, date(2026, 10, 20), 25_000, "Grant payment to Luis Smith (zelle ZEL-77)", "2")
    pay_grant(fund, date(2026, 10, 28), 30_000, "Grant payment to Maria Nguyen (cheque 2002)", "3")
    ledger.post_entry(fund, entry_date=date(2026, 11, 1), memo="card gifts", source_kind="stripe.charge",
                      source_id="ch_2", postings=[("Assets:Stripe", 61_450), ("Expenses:PaymentFees", 2_050),
                                                  ("Income:Donations", -63_500)])
    booking.record_payout(fund, PayoutFact("po_demo_2", 61_450, "USD", date(2026, 11, 2), "paid"))
    db.session.commit()
    assert ledger.balance(fund, "Assets:Bank", date(2026, 10, 31)) == BOOKS_OCTOBER
    return fund


@pytest.fixture
def october(books):
    """The October OFX statement imported."""
    bank.import_statement(books, data("2026-10.ofx"), filename="2026-10.ofx", file_format="ofx")
    db.session.commit()
    return books


def line(fund, fitid: str):
    from fundapp.bank.models import BankStatementLine

    return db.session.scalar(db.select(BankStatementLine).filter_by(fund_id=fund.id, fitid=fitid))


def bank_posting(fund, source_kind: str, source_id: str) -> int:
    entry = ledger.find_entry(fund, source_kind, source_id)
    return next(p.id for p in entry.postings if p.account.name == "Assets:Bank")


@pytest.fixture
def treasurer(client, create_user, fund):
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    return client


def posting_for(fund, memo_part: str) -> int:
    """The id of the bank-account posting whose entry's memo contains ``memo_part`` (exactly one)."""
    found = [p for p in bank.unmatched_postings(fund, date(2026, 1, 1), date(2026, 12, 31)) if memo_part in p.memo]
    assert len(found) == 1, found
    return found[0].posting_id
