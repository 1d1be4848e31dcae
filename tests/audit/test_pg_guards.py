"""PostgreSQL itself guards the audit trail (and the books against TRUNCATE), even against raw SQL that
bypasses the app; a superuser who turns the guards off is still caught by the seals and the anchors.

Collected only in the PostgreSQL run of the suite, where the test database is PostgreSQL.
"""
from __future__ import annotations

import os
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from fundapp.audit.models import AuditRecord
from fundapp.extensions import db
from fundapp.ledger import services as ledger

if os.environ.get("FUNDAPP_TEST_DATABASE_URL"):

    def _post_gifts(fund, count: int) -> None:
        for n in range(count):
            ledger.post_entry(fund, entry_date=date(2026, 11, 2), memo=f"gift {n}", source_kind="t", source_id=n,
                              postings=[("Assets:Bank", 500 + n), ("Income:Donations", -500 - n)])
        db.session.commit()

    def _count(table) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(table))

    @pytest.mark.parametrize("statement, refused", [
        ("UPDATE audit_records SET action = 'x'", "the audit trail is append-only: UPDATE on audit_records"),
        ("DELETE FROM audit_records WHERE id = (SELECT max(id) FROM audit_records)",
         "the audit trail is append-only: DELETE on audit_records"),
        ("TRUNCATE audit_records", "the audit trail is append-only: TRUNCATE on audit_records"),
        ("TRUNCATE postings CASCADE", "the books are append-only: TRUNCATE on postings"),
        ("TRUNCATE journal_entries CASCADE", "TRUNCATE on journal_entries"),
        ("TRUNCATE funds CASCADE", "append-only: TRUNCATE on"),
    ])
    def test_database_refuses_changing_or_emptying_the_audit_trail_and_the_books(fund, statement, refused):
        assert db.engine.dialect.name == "postgresql"
        _post_gifts(fund, 3)
        before = db.session.execute(sa.select(AuditRecord.id, AuditRecord.action, AuditRecord.hash)
                                    .order_by(AuditRecord.id)).all()
        db.session.commit()  # our read lock would make the TRUNCATE wait for us
        with db.engine.connect() as conn:
            with pytest.raises(DBAPIError, match=refused):
                conn.execute(sa.text(statement))
            conn.rollback()
        db.session.rollback()
        assert db.session.execute(sa.select(AuditRecord.id, AuditRecord.action, AuditRecord.hash)
                                  .order_by(AuditRecord.id)).all() == before
        assert ledger.balance(fund, "Assets:Bank") == 1_503 and _count(sa.table("postings")) == 6

    def test_superuser_truncating_the_trail_with_its_trigger_disabled_is_caught_by_the_anchor(runner, fund,
                                                                                            tmp_path):
        _post_gifts(fund, 5)
        anchor = tmp_path / "anchor.txt"
        assert runner.invoke(args=["fund", "audit-anchor", "-o", str(anchor)]).exit_code == 0
        db.session.commit()
        with db.engine.begin() as owner:  # the owner's way round the guard, put back in the same transaction
            owner.execute(sa.text("ALTER TABLE audit_records DISABLE TRIGGER audit_records_no_truncate"))
            owner.execute(sa.text("TRUNCATE audit_records"))
            owner.execute(sa.text("ALTER TABLE audit_records ENABLE TRIGGER audit_records_no_truncate"))
        assert _count(AuditRecord.__table__) == 0
        db.session.commit()
        alone = runner.invoke(args=["fund", "verify-audit"])
        assert alone.exit_code == 0 and "intact: 0 records" in alone.output  # an empty trail is a good chain
        result = runner.invoke(args=["fund", "verify-audit", "--anchor", str(anchor)])
        assert result.exit_code == 1
        assert "record 5, the anchor's head, is gone: the trail holds 0 records" in result.output
        db.session.commit()
        with db.engine.connect() as conn:  # and the guard is back for everyone else
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(sa.text("TRUNCATE audit_records"))
