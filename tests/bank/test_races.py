"""Two treasurers matching at the same moment: a posting is matched once and a line once, whatever the timing."""
from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from fundapp.bank import reconciliation as bank_rec
from fundapp.bank import services as bank
from fundapp.bank.models import BankMatch, BankStatementLine
from fundapp.extensions import db
from fundapp.ledger import services as ledger


@pytest.mark.parametrize("same", ["posting", "line"])
def test_concurrent_matches_never_match_a_posting_or_a_line_twice(app, fund, same):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("races are real only on PostgreSQL with separate connections")
    layout = bank.save_csv_format(fund, date_column="Date", date_format="%Y-%m-%d", amount_column="Amount",
                                  reference_column="Ref")
    db.session.commit()
    outcomes = []
    for trial in range(50):
        day = date(2026, 6, 1) + timedelta(days=trial)
        postings = []
        for n in range(2):
            entry = ledger.post_entry(fund, entry_date=day, memo=f"cheque {trial}-{n}", source_kind="t",
                                      source_id=f"{same}-{trial}-{n}", postings=[("Assets:Bank", -7_000),
                                                                                  ("Income:Donations", 7_000)])
            postings.append(next(p.id for p in entry.postings if p.amount_cents == -7_000))
        bank.import_statement(fund, f"Date,Amount,Ref\n{day},-70.00,a\n{day},-70.00,b\n".encode(),
                              filename=f"{same}-{trial}.csv", file_format="csv", layout=layout)
        db.session.commit()
        lines = [l.id for l in bank_rec.lines_in(fund, day, day)]
        # "posting": two lines, one posting; "line": one line, two postings.
        jobs = [(lines[0], postings[0]), (lines[1], postings[0])] if same == "posting" else \
            [(lines[0], postings[0]), (lines[0], postings[1])]
        barrier = threading.Barrier(len(jobs))
        results = []

        def match(line_id, posting_id, barrier=barrier, results=results):
            with app.app_context():
                from fundapp.funds.models import Fund

                barrier.wait()
                try:
                    bank.match_line(db.session.get(Fund, fund.id), line_id, [posting_id])
                    db.session.commit()
                    results.append("matched")
                except bank.BankError:
                    db.session.rollback()
                    results.append("refused")
                except Exception as exc:  # a serialization failure: the treasurer tries again
                    db.session.rollback()
                    results.append(type(exc).__name__)

        workers = [threading.Thread(target=match, args=job) for job in jobs]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        db.session.rollback()
        outcomes.append(sorted(results))
        assert results.count("matched") == 1, outcomes
    for _posting_id, count in db.session.execute(db.select(BankMatch.posting_id, db.func.count())
                                                .group_by(BankMatch.posting_id)):
        assert count == 1
    for line in db.session.scalars(db.select(BankStatementLine)):
        assert line.matched_cents == sum(m.amount_cents for m in line.matches)
