"""The books: posting, idempotency, reversal, immutability, balances, periods."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fundapp.extensions import db
from fundapp.ledger import services as ledger
from fundapp.ledger.models import CHART, ImmutableLedger, JournalEntry, Posting

DAY = date(2026, 11, 2)
GIFT = [("Assets:Stripe", 9_680), ("Expenses:PaymentFees", 320), ("Income:Donations", -10_000)]


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def post(fund, source_id="ch_1", postings=GIFT, day=DAY, kind="stripe.charge"):
    return ledger.post_entry(fund, entry_date=day, memo="gift", source_kind=kind, source_id=source_id,
                             postings=postings)


def test_a_settled_gift_posts_balanced_and_balances_follow(fund):
    entry = post(fund)
    db.session.commit()
    assert sum(p.amount_cents for p in entry.postings) == 0
    assert ledger.balance(fund, "Assets:Stripe") == 9_680
    assert ledger.balance(fund, "Income:Donations") == -10_000
    assert ledger.balance(fund, "Assets:Stripe", as_of=date(2026, 11, 1)) == 0
    assert set(ledger.balances(fund)) == set(CHART)


def test_posting_the_same_source_twice_gives_one_entry(fund):
    first = post(fund)
    second = post(fund)
    db.session.commit()
    assert first.id == second.id
    assert count(JournalEntry) == 1 and count(Posting) == 3


@pytest.mark.parametrize("postings, message", [
    ([("Assets:Bank", 100)], "at least two postings"),
    ([("Assets:Bank", 100), ("Income:Donations", -99)], "does not balance"),
    ([("Assets:Bank", 0), ("Income:Donations", 0)], "zero amount"),
    ([("Assets:Bank", 1.5), ("Income:Donations", -1.5)], "integer cents"),
    ([("Assets:Bank", 100), ("Income:Nowhere", -100)], "unknown account"),
])
def test_invalid_entries_are_refused_and_leave_nothing(fund, postings, message):
    with pytest.raises(ledger.LedgerError, match=message):
        post(fund, postings=postings)
    db.session.commit()
    assert count(JournalEntry) == 0 and count(Posting) == 0


def test_reversal_mirrors_the_entry_once(fund):
    entry = post(fund)
    reversal = ledger.reverse_entry(entry, entry_date=DAY, memo="refund of ch_1")
    db.session.commit()
    assert reversal.reversal_of_id == entry.id
    assert sorted(p.amount_cents for p in reversal.postings) == sorted(-p.amount_cents for p in entry.postings)
    assert all(total == 0 for total in ledger.balances(fund).values())
    with pytest.raises(ledger.AlreadyReversed):
        ledger.reverse_entry(entry, entry_date=DAY, memo="again")
    with pytest.raises(ledger.LedgerError, match="itself a reversal"):
        ledger.reverse_entry(reversal, entry_date=DAY, memo="reverse the reversal")


def test_model_layer_refuses_changing_or_deleting_a_posting(fund):
    entry = post(fund)
    db.session.commit()
    entry.postings[0].amount_cents = 1
    with pytest.raises(ImmutableLedger):
        db.session.flush()
    db.session.rollback()
    db.session.delete(entry.postings[0])
    with pytest.raises(ImmutableLedger):
        db.session.flush()
    db.session.rollback()
    entry.memo = "rewritten history"
    with pytest.raises(ImmutableLedger):
        db.session.flush()
    db.session.rollback()
    assert ledger.balance(fund, "Assets:Stripe") == 9_680


def test_closed_month_refuses_entries_and_reopening_is_audited(fund, monkeypatch):
    from fundapp.audit.models import AuditRecord
    from fundapp.funds import clock

    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 12, 15, 12, tzinfo=UTC))  # November has ended
    ledger.close_month(fund, "2026-11")
    db.session.commit()
    with pytest.raises(ledger.PeriodClosed, match="November 2026 is closed"):
        post(fund)
    post(fund, day=date(2026, 12, 1))  # the open month takes it
    with pytest.raises(ledger.LedgerError, match="already closed"):
        ledger.close_month(fund, "2026-11")
    with pytest.raises(ledger.LedgerError, match="say why"):
        ledger.reopen_month(fund, "2026-11", reason=" ")
    ledger.reopen_month(fund, "2026-11", reason="late cheque")
    post(fund, source_id="ch_2")
    db.session.commit()
    record = db.session.scalar(sa.select(AuditRecord).filter_by(action="ledger.reopen_month"))
    assert record.after == {"closed": False, "reason": "late cheque"}


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-11", "", "2026-11-01"])
def test_month_must_be_yyyy_mm(fund, month):
    with pytest.raises(ledger.LedgerError, match="YYYY-MM"):
        ledger.close_month(fund, month)


def test_only_a_month_that_has_ended_on_the_funds_calendar_can_be_closed(fund, monkeypatch):
    from fundapp.funds import clock

    # 23:30 on November 30th in Los Angeles: UTC is in December already, the fund's calendar is not
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 12, 1, 7, 30, tzinfo=UTC))
    post(fund, day=date(2026, 10, 30), source_id="ch_oct")
    post(fund, day=date(2026, 11, 30), source_id="ch_nov")
    assert ledger.next_months_to_close(fund) == ["2026-10"]
    for month in ("2026-11", "2026-12", "2027-01"):
        with pytest.raises(ledger.LedgerError, match=f"{month} has not ended yet"):
            ledger.close_month(fund, month)
    assert ledger.closed_months(fund) == []
    ledger.close_month(fund, "2026-10")
    post(fund, day=date(2026, 11, 30), source_id="ch_late")  # a gift Stripe settles tonight still books
    db.session.commit()
    assert ledger.closed_months(fund) == ["2026-10"]


def test_available_to_grant_is_cash_less_payable_less_reserve(fund):
    fund.reserve_cents = 1_000
    post(fund)  # 96.80 into Stripe
    ledger.post_entry(fund, entry_date=DAY, memo="cheque", source_kind="offline", source_id="1",
                      postings=[("Assets:Undeposited", 5_000), ("Income:Donations", -5_000)])
    ledger.post_entry(fund, entry_date=DAY, memo="grant", source_kind="grant.approval", source_id="1",
                      postings=[("Expenses:HardshipGrants", 4_000), ("Liabilities:GrantsPayable", -4_000)])
    db.session.commit()
    assert ledger.available_to_grant(fund) == 9_680 + 5_000 - 4_000 - 1_000


def test_close_and_reopen_commands(runner, fund):
    assert runner.invoke(args=["fund", "close-month", "2026-10"]).exit_code == 0
    again = runner.invoke(args=["fund", "close-month", "2026-10"])
    assert again.exit_code == 1 and "already closed" in again.output
    no_reason = runner.invoke(args=["fund", "reopen-month", "2026-10"])
    assert no_reason.exit_code != 0
    assert runner.invoke(args=["fund", "reopen-month", "2026-10", "--reason", "audit fix"]).exit_code == 0
    assert ledger.closed_months(fund) == []


# --- property: whatever valid entries and reversals happen, the books stay balanced --------------

ACCOUNTS = list(CHART)
entry_strategy = st.lists(
    st.tuples(st.sampled_from(ACCOUNTS), st.integers(min_value=1, max_value=10**9)), min_size=1, max_size=4
).map(lambda debits: debits + [(ACCOUNTS[(len(debits) * 3) % len(ACCOUNTS)], -sum(a for _n, a in debits))])
action_strategy = st.lists(st.one_of(
    st.tuples(st.just("post"), entry_strategy),
    st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=50)),
    st.tuples(st.just("bad"), st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.integers(-10**6, 10**6)),
                                       min_size=0, max_size=4)),
), min_size=1, max_size=25)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=action_strategy)
def test_books_always_balance(app, actions):
    from fundapp.setup import init_fund
    from tests.conftest import empty_all_tables

    empty_all_tables()  # each example starts from empty books
    fund = init_fund(app.config["FUND_DEFAULTS"]).fund
    db.session.commit()
    expected: dict[str, int] = {}
    posted: list[JournalEntry] = []
    for n, (kind, payload) in enumerate(actions):
        if kind == "post":
            entry = post(fund, source_id=f"p{n}", postings=payload)
            posted.append(entry)
            for name, amount in payload:
                expected[name] = expected.get(name, 0) + amount
        elif kind == "reverse" and posted:
            target = posted[payload % len(posted)]
            try:
                reversal = ledger.reverse_entry(target, entry_date=DAY, memo="r")
            except ledger.LedgerError:
                continue
            posted.append(reversal)
            for p in reversal.postings:
                expected[p.account.name] = expected.get(p.account.name, 0) + p.amount_cents
        elif kind == "bad":
            if len(payload) >= 2 and sum(a for _n, a in payload) == 0 and all(a for _n, a in payload):
                continue  # happens to be valid
            before = count(Posting)
            with pytest.raises(ledger.LedgerError):
                post(fund, source_id=f"b{n}", postings=payload)
            assert count(Posting) == before
        db.session.commit()
    totals = ledger.balances(fund)
    assert sum(totals.values()) == 0
    assert {k: v for k, v in totals.items() if v} == {k: v for k, v in expected.items() if v}
    lines = ledger.trial_balance(fund)
    assert sum(l.debit_cents for l in lines) == sum(l.credit_cents for l in lines)
    for entry_id, total in db.session.execute(
            sa.select(Posting.entry_id, sa.func.sum(Posting.amount_cents)).group_by(Posting.entry_id)):
        assert total == 0, entry_id
    assert ledger.check_day_totals(fund) == []  # what balances are read from equals the postings


def test_day_totals_follow_every_entry_and_a_difference_is_found_and_repaired(runner, fund):
    from datetime import timedelta

    from fundapp.ledger.models import DayTotal

    for n in range(12):  # several entries a day, so several slots of one day fill
        post(fund, source_id=f"ch_{n}", day=DAY + timedelta(days=n % 3))
    entry = post(fund, source_id="split", postings=[("Assets:Bank", 300), ("Assets:Bank", 200),
                                                    ("Income:Donations", -500)])
    ledger.reverse_entry(entry, entry_date=DAY + timedelta(days=5), memo="wrong")
    db.session.commit()
    assert ledger.check_day_totals(fund) == []
    assert ledger.balance(fund, "Income:Donations", DAY) == -40_000 - 500
    assert ledger.count_entries_crediting(fund, "Income:Donations") == 13
    assert runner.invoke(args=["fund", "check-books"]).exit_code == 0
    # Someone edits a day total behind the app's back: the check names the day, the repair mends it.
    db.session.execute(sa.update(DayTotal).where(DayTotal.day == DAY + timedelta(days=1))
                       .values(cents=DayTotal.cents + 1))
    db.session.commit()
    problems = ledger.check_day_totals(fund)
    assert problems and all(str(DAY + timedelta(days=1)) in p for p in problems)
    refused = runner.invoke(args=["fund", "check-books"])
    assert refused.exit_code != 0 and "differ from the postings" in refused.output
    repaired = runner.invoke(args=["fund", "check-books", "--repair"])
    assert repaired.exit_code == 0 and "Rebuilt the day totals" in repaired.output
    assert ledger.check_day_totals(fund) == []


def test_a_month_closed_while_an_entry_is_being_posted_refuses_the_entry(app, fund, monkeypatch):
    """The entry's transaction read the closed months before the treasurer closed November (in another
    connection, at the moment the entry is inserted): the close's lock is taken by the entry's audit record, and
    the entry is refused then, rather than landing in a month whose snapshot no longer matches."""
    import threading

    from fundapp.funds import clock
    from fundapp.funds.models import Fund

    if db.engine.dialect.name != "postgresql":
        pytest.skip("races are real only on PostgreSQL with separate connections")
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 12, 15, 12, tzinfo=UTC))  # November has ended
    closed = threading.Event()

    def close_november():
        with app.app_context():
            ledger.close_month(db.session.get(Fund, fund.id), "2026-11")
            db.session.commit()
        closed.set()

    def close_when_the_entry_goes_in(_conn, _cursor, statement, *_args):
        if statement.lstrip().startswith("INSERT INTO journal_entries") and not closed.is_set():
            treasurer = threading.Thread(target=close_november)
            treasurer.start()
            treasurer.join(timeout=30)

    sa.event.listen(db.engine, "before_cursor_execute", close_when_the_entry_goes_in)
    try:
        with pytest.raises(ledger.PeriodClosed, match="November 2026 is closed"):
            post(fund)  # dated 2 November
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", close_when_the_entry_goes_in)
        db.session.rollback()
    assert closed.is_set() and ledger.closed_months(fund) == ["2026-11"]
    assert count(JournalEntry) == 0
    assert ledger.check_closed_months(fund) == []
