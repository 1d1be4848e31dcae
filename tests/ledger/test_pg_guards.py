"""PostgreSQL itself guards the books, even against raw SQL that bypasses the app.

Collected only in the PostgreSQL run of the suite (``make test`` runs it when the
server is reachable; CI requires it), where the test database is PostgreSQL.
"""
from __future__ import annotations

import os
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from fundapp.extensions import db
from fundapp.ledger import services as ledger
from fundapp.ledger.models import JournalEntry, Posting

if os.environ.get("FUNDAPP_TEST_DATABASE_URL"):

    def _posted(fund):
        entry = ledger.post_entry(fund, entry_date=date(2026, 11, 2), memo="gift", source_kind="t", source_id="1",
                                  postings=[("Assets:Bank", 500), ("Income:Donations", -500)])
        db.session.commit()
        return entry

    def test_database_refuses_update_and_delete_of_postings_through_raw_sql(fund):
        assert db.engine.dialect.name == "postgresql"
        entry = _posted(fund)
        for statement in (f"UPDATE postings SET amount_cents = 1 WHERE entry_id = {entry.id}",
                          f"DELETE FROM postings WHERE entry_id = {entry.id}",
                          f"UPDATE journal_entries SET memo = 'x' WHERE id = {entry.id}",
                          f"DELETE FROM journal_entries WHERE id = {entry.id}"):
            with db.engine.connect() as conn:
                with pytest.raises(DBAPIError, match="append-only"):
                    conn.execute(sa.text(statement))
                conn.rollback()
        assert ledger.balance(fund, "Assets:Bank") == 500

    def _raw_entry(conn, fund, source_id: str, postings: list[tuple[int, int]]) -> int:
        """Insert an entry and its (account id, cents) postings with plain SQL, bypassing the app."""
        entry_id = conn.execute(sa.insert(JournalEntry).values(
            fund_id=fund.id, entry_date=date(2026, 11, 2), memo="raw", source_kind="raw", source_id=source_id,
            created_at=sa.func.now()).returning(JournalEntry.id)).scalar_one()
        for account_id, cents in postings:
            conn.execute(sa.insert(Posting).values(entry_id=entry_id, account_id=account_id, amount_cents=cents))
        return entry_id

    def test_database_refuses_an_unbalanced_entry_at_commit(fund):
        accounts = ledger.chart(fund)
        db.session.commit()
        bank, donations = accounts["Assets:Bank"].id, accounts["Income:Donations"].id
        for source_id, postings in (("1", [(bank, 700), (donations, -600)]), ("2", [])):
            with db.engine.connect() as conn:
                _raw_entry(conn, fund, source_id, postings)
                with pytest.raises(DBAPIError, match="does not balance"):
                    conn.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(JournalEntry)) == 0

    def test_database_accepts_a_balanced_raw_entry(fund):
        accounts = ledger.chart(fund)
        db.session.commit()
        with db.engine.begin() as conn:
            _raw_entry(conn, fund, "3", [(accounts["Assets:Bank"].id, 700), (accounts["Income:Donations"].id, -700)])
        # Written around post_entry, so the day totals lack it: the check says so, and a rebuild takes it in.
        assert len(ledger.check_day_totals(fund)) == 2 and ledger.balance(fund, "Assets:Bank") == 0
        ledger.rebuild_day_totals(fund)
        db.session.commit()
        assert ledger.balance(fund, "Assets:Bank") == 700 and ledger.check_day_totals(fund) == []
