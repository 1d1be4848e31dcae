"""The demo's bank statement: a treasurer trying the reconciliation on the demo gets a month that comes to
0.00 once every line is matched and the bank's fee is booked, with the cheques not yet cashed named."""
from __future__ import annotations

import calendar
from datetime import date, timedelta

from fundapp.bank import reconciliation as bank_rec
from fundapp.bank import services as bank
from fundapp.bank.models import BankStatementLine
from fundapp.demo import DEMO_BANK_FEE_CENTS
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.ledger import services as ledger

LAYOUT = dict(date_column="Posted Date", date_format="%m/%d/%Y", description_column="Description",
              debit_column="Debit", credit_column="Credit", reference_column="Check Number")


def test_the_demo_bank_statement_reconciles_to_zero_with_the_uncashed_cheques_listed(demo_fund, fund, runner,
                                                                                     tmp_path):
    first = clock.today(fund).replace(day=1)
    month = f"{first - timedelta(days=1):%Y-%m}"  # last month: the demo paid cheques in it
    out = tmp_path / "bank.csv"
    said = runner.invoke(args=["fund", "demo-bank-statement", "--month", month, "-o", str(out)])
    assert said.exit_code == 0, said.output
    ending_text = said.output.split("ending balance ")[1].split(";")[0]
    ending_cents = int(ending_text.replace("$", "").replace(",", "").replace(".", ""))
    year, number = (int(part) for part in month.split("-"))
    end = date(year, number, calendar.monthrange(year, number)[1])

    statement = bank.import_statement(fund, out.read_bytes(), filename="bank.csv", file_format="csv",
                                      layout=bank.save_csv_format(fund, **LAYOUT), ending_balance_cents=ending_cents,
                                      statement_end=end)
    db.session.commit()
    for line in db.session.scalars(db.select(BankStatementLine).filter_by(import_id=statement.id)
                                   .order_by(BankStatementLine.line_date, BankStatementLine.id)).all():
        if line.description == "SERVICE FEE":
            bank.book_bank_item(fund, line.id, "fee")
            continue
        found = bank.suggestions(fund, line)
        assert found, f"no entry in the books for the bank's line {line.description} {line.amount_cents}"
        bank.match_line(fund, line.id, [p.posting_id for p in found[0].postings])
    db.session.commit()

    result = bank_rec.reconcile(fund, end)
    assert result.difference_cents == 0
    assert result.bank_cents == ending_cents and result.unrecorded == []
    cashed_later = said.output.split("cheques not yet cashed: ")[1].split(".")[0]
    assert cashed_later != "none" and len(result.outstanding) == len(cashed_later.split(", "))
    assert all(p.amount_cents < 0 for p in result.outstanding)  # cheques written, not yet through the bank
    assert ledger.balance(fund, "Expenses:BankFees") == DEMO_BANK_FEE_CENTS  # the fee is in the books now
