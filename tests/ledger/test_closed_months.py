"""A closed month keeps, in its sealed close record, what it held; check-books tells when that changed.

The changes come from the database's owner (``owner_connection``: on PostgreSQL the superuser with the
books' triggers off), the one person who can still write into a closed month.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date

from fundapp.audit.models import AuditRecord
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from fundapp.ledger.models import DayTotal, JournalEntry, Posting
from tests.conftest import owner_connection

SEPTEMBER = (date(2026, 9, 1), date(2026, 9, 30))


def close_record(month: str) -> AuditRecord:
    return db.session.scalar(db.select(AuditRecord).filter_by(action="ledger.close_month", object_id=month)
                             .order_by(AuditRecord.id.desc()).limit(1))


def september_entries(fund) -> list[JournalEntry]:
    return db.session.scalars(db.select(JournalEntry).where(
        JournalEntry.fund_id == fund.id, JournalEntry.entry_date.between(*SEPTEMBER)).order_by(JournalEntry.id)).all()


def months_hold(result) -> bool:
    """check-books found no closed month changed. (The ledger fixture's grants are entries without grant rows,
    which check-books rightly reports as grant invariants broken: so not its exit code, its closed-month lines.)"""
    return "Traceback" not in result.output and "closed_month_unchanged" not in result.output and (
        result.exit_code == 0 or "grant_payable_matches_owed" in result.output)


def test_closing_a_month_keeps_its_totals_counted_from_the_postings(runner, books):
    expected: dict[str, dict[str, int]] = defaultdict(lambda: {"cents": 0, "postings": 0})
    rows = []
    for entry in september_entries(books):
        for posting in sorted(entry.postings, key=lambda p: p.id):
            expected[posting.account.name]["cents"] += posting.amount_cents
            expected[posting.account.name]["postings"] += 1
            rows.append(f"{entry.id}|{posting.account.name}|{posting.amount_cents}\n")
    with owner_connection() as owner:  # day totals gone wrong must not leak into the snapshot
        owner.execute(db.delete(DayTotal))
    assert runner.invoke(args=["fund", "close-month", "2026-09"]).exit_code == 0
    snapshot = close_record("2026-09").after["snapshot"]
    assert snapshot["accounts"] == dict(expected) and len(expected) >= 5
    assert snapshot["entries"] == len(september_entries(books)) > 20
    assert snapshot["digest"] == hashlib.sha256("".join(rows).encode()).hexdigest()
    assert months_hold(runner.invoke(args=["fund", "check-books", "--repair"]))
    assert ledger.check_closed_months(books) == []


def test_check_books_reports_postings_a_superuser_added_to_a_closed_month(runner, books):
    assert runner.invoke(args=["fund", "close-month", "2026-09"]).exit_code == 0
    assert months_hold(runner.invoke(args=["fund", "check-books"]))
    bank_then = close_record("2026-09").after["snapshot"]["accounts"]["Assets:Bank"]["cents"]
    accounts = ledger.chart(books)
    entry_id = september_entries(books)[3].id
    with owner_connection() as owner:  # a balancing pair: the books still balance
        owner.execute(db.insert(Posting), [
            {"entry_id": entry_id, "account_id": accounts["Assets:Bank"].id, "amount_cents": 1_000},
            {"entry_id": entry_id, "account_id": accounts["Income:Donations"].id, "amount_cents": -1_000}])

    repaired = runner.invoke(args=["fund", "check-books", "--repair"])
    assert "Rebuilt the day totals" in repaired.output  # the day totals now agree with the postings ...
    assert repaired.exit_code == 1  # ... but September is not what was closed
    result = runner.invoke(args=["fund", "check-books"])
    assert result.exit_code == 1
    assert f"closed month 2026-09: Assets:Bank was {bank_then} cents at closing, now {bank_then + 1_000}" \
        in result.output
    assert "closed month 2026-09: Income:Donations was" in result.output
    assert "closed month 2026-09: Assets:Bank had" in result.output  # one more posting than at closing
    assert "2026-08" not in result.output and "2026-10" not in result.output

    # Reopening, with a reason in the trail, and closing again takes the month as it now is.
    assert runner.invoke(args=["fund", "reopen-month", "2026-09", "--reason", "owner's correction"]).exit_code == 0
    assert months_hold(runner.invoke(args=["fund", "check-books"]))
    assert runner.invoke(args=["fund", "close-month", "2026-09"]).exit_code == 0
    assert months_hold(runner.invoke(args=["fund", "check-books"]))


def test_check_books_notices_amounts_moved_between_entries_of_a_closed_month(runner, books):
    """Every account's total and count stay the same; only the digest over the entries tells."""
    assert runner.invoke(args=["fund", "close-month", "2026-09"]).exit_code == 0
    first, second = [e for e in september_entries(books) if e.source_kind == "stripe.charge"][:2]
    moves = {}
    for entry, sign in ((first, 1), (second, -1)):
        for posting in entry.postings:
            if posting.account.name in ("Assets:Stripe", "Income:Donations"):
                moves[posting.id] = posting.amount_cents + (100 if posting.amount_cents > 0 else -100) * sign
    with owner_connection() as owner:
        for posting_id, cents in moves.items():
            owner.execute(db.update(Posting).where(Posting.id == posting_id).values(amount_cents=cents))
    assert runner.invoke(args=["fund", "check-books", "--repair"]).exit_code == 1
    result = runner.invoke(args=["fund", "check-books"])
    assert result.exit_code == 1
    assert "closed_month_unchanged: closed month 2026-09" in result.output
    assert "closed month 2026-09: its postings differ from those at closing" in result.output
