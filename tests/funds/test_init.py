"""``flask fund init``: the one step that makes the fund, its first rules and its chart of accounts; without
it the reads refuse (naming the command) rather than writing."""
from __future__ import annotations

import io

import pytest

from fundapp.accounts.models import Member
from fundapp.applications import services as applications
from fundapp.applications.models import Application, ApplicationDocument, FundRules
from fundapp.extensions import db
from fundapp.funds.models import Fund, FundNotInitialised
from fundapp.funds.services import current_fund
from fundapp.ledger import services as ledger
from fundapp.ledger.models import CHART, Account
from tests.conftest import empty_all_tables, owner_connection, sign_in

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def counts() -> tuple[int, int, int]:
    return tuple(db.session.scalar(db.select(db.func.count()).select_from(model))
                 for model in (Fund, FundRules, Account))


def test_init_makes_the_fund_its_rules_and_chart_once_and_says_what_it_did(app, runner):
    empty_all_tables()
    made = runner.invoke(args=["fund", "init"])
    assert made.exit_code == 0, made.output
    assert "Created the fund" in made.output and "version 1 of its grant rules" in made.output
    assert f"Opened {len(CHART)} accounts" in made.output
    assert counts() == (1, 1, len(CHART))
    fund = current_fund()
    assert fund.slug == app.config["FUND_DEFAULTS"]["slug"] and applications.current_rules(fund).version == 1
    assert sorted(ledger.chart(fund)) == sorted(CHART)

    again = runner.invoke(args=["fund", "init"])
    assert again.exit_code == 0 and "already set up; nothing to do" in again.output
    assert counts() == (1, 1, len(CHART))


def test_init_completes_a_fund_made_before_it(app, runner):
    """An installation whose fund was made on first use (before ``fund init``) but lacks an account."""
    fund = current_fund()
    with owner_connection() as conn:  # (the books refuse a DELETE to anyone else)
        conn.execute(db.delete(Account).where(Account.name == "Equity:Opening"))
    with pytest.raises(FundNotInitialised, match="fund init"):
        ledger.balances(fund)
    done = runner.invoke(args=["fund", "init"])
    assert done.exit_code == 0 and "The fund" in done.output and "Equity:Opening" in done.output
    assert "Created" not in done.output
    assert ledger.balances(fund)["Equity:Opening"] == 0


def test_without_init_the_reads_refuse_and_write_nothing(app, client, runner):
    empty_all_tables()
    with pytest.raises(FundNotInitialised, match="flask --app wsgi fund init"):
        current_fund()
    page = client.get("/transparency")
    assert page.status_code == 503 and b"flask --app wsgi fund init" in page.data
    command = runner.invoke(args=["fund", "import-roster", "-"], input="member_id\n")
    assert command.exit_code == 1 and "run `flask --app wsgi fund init`" in command.output
    assert counts() == (0, 0, 0)


def test_reads_never_make_rules_or_accounts(app, fund):
    with owner_connection() as conn:
        conn.execute(db.delete(Account).where(Account.fund_id == fund.id))
    with pytest.raises(FundNotInitialised, match="chart of accounts"):
        ledger.balances(fund)
    assert db.session.scalar(db.select(db.func.count(Account.id))) == 0


def test_the_first_save_on_apply_makes_the_draft_with_its_documents(app, client, fund, create_user):
    """GET /apply shows an empty form and makes nothing; the first save makes the draft, files and all."""
    rosa = create_user("rosa@example.org", "applicant")
    db.session.add(Member(fund_id=fund.id, member_id="R-1", first_name="Rosa", last_name="N", worksite="North",
                          unit="U", on_strike=True, user_id=rosa.id))
    db.session.commit()
    sign_in(client, "rosa@example.org")
    form = client.get("/apply")
    assert form.status_code == 200 and b'name="category"' in form.data
    assert db.session.scalar(db.select(db.func.count(Application.id))) == 0
    saved = client.post("/apply", data={"category": "rent", "amount": "120.00", "save": "1",
                                        "documents": [(io.BytesIO(PDF), "lease.pdf", "application/pdf")]},
                        content_type="multipart/form-data")
    assert saved.status_code == 302
    draft = db.session.scalar(db.select(Application))
    assert draft.status == "draft" and draft.amount_requested_cents == 12_000
    assert [d.original_name for d in db.session.scalars(db.select(ApplicationDocument))] == ["lease.pdf"]
    again = client.get("/apply")
    assert b"lease.pdf" in again.data and b"120.00" in again.data
