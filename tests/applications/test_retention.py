"""Retention: closed cases lose their documents and personal details after the set time; the books, the
amounts and the anonymised register stay; open and recent cases are not touched."""
from __future__ import annotations

import io
from datetime import timedelta

import sqlalchemy as sa

from fundapp.applications.documents import documents_dir
from fundapp.applications.models import Application, ApplicationDocument, ApplicationMessage
from fundapp.audit.services import verify_chain
from fundapp.extensions import db, utcnow
from fundapp.funds import clock
from fundapp.ledger import exports as ledger_exports
from fundapp.reporting import exports
from fundapp.review import services as review
from tests.factories import PDF, fund_with, send, striker


def ledger_csv(fund) -> str:
    out = io.StringIO()
    ledger_exports.write_csv(fund, out)
    return out.getvalue()


def test_purge_removes_old_closed_cases_personal_details_and_keeps_the_books(client, create_user, roster, app,
                                                                            runner):  # noqa: F811
    fund = roster
    fund_with(fund, 100_000)
    tom = create_user("tom@example.org", "trustee")
    rosa = striker(client, create_user, roster)
    assert send(client, amount="250", documents=(io.BytesIO(PDF), "lease.pdf")).status_code == 302
    old = db.session.scalar(db.select(Application).filter_by(applicant_id=rosa.id))
    review.ask_question(fund, old, "Which month is this for?", actor=tom)
    db.session.commit()
    client.post(f"/my/{old.id}/answer", data={"body": "December, at 12 Mill St"})
    db.session.refresh(old)
    review.add_note(fund, old, "Sealed: the tenant's medical reason", sealed=True, actor=tom)
    review.approve(fund, old, 25_000, actor=tom)
    review.record_payment(fund, old, amount_cents=25_000, method="cheque", reference="77", paid_on=clock.today(fund),
                          actor=tom)
    db.session.commit()
    stored = documents_dir() / old.documents[0].stored_name
    assert stored.exists()

    other = app.test_client()  # a case that is closed, but recently
    striker(other, create_user, roster, email="mary@example.org", member_id="A-3", last_name="O'Brien")
    send(other, amount="100")
    recent = db.session.scalar(db.select(Application).where(Application.id != old.id))
    review.deny(fund, recent, "not_hardship", actor=tom, note="Not a hardship under the rules.")
    db.session.commit()
    four_years_ago = utcnow() - timedelta(days=4 * 365)
    db.session.execute(sa.update(Application).where(Application.id == old.id).values(updated_at=four_years_ago))
    db.session.commit()
    books_before = ledger_csv(fund)

    result = runner.invoke(args=["fund", "purge-closed"])
    assert result.exit_code == 0, result.output
    assert "personal details of 1 cases" in result.output and "1 documents" in result.output
    db.session.expire_all()
    purged = db.session.get(Application, old.id)
    assert purged.personal_data_removed_at is not None
    assert (purged.address, purged.need, purged.phone, purged.household_members, purged.payee_details) == ("",) * 5
    assert purged.amount_paid_cents == 25_000 and purged.status == "paid" and purged.category == "rent"
    assert not stored.exists()
    assert db.session.scalar(sa.select(sa.func.count(ApplicationDocument.id))) == 0
    bodies = set(db.session.scalars(sa.select(ApplicationMessage.body).filter_by(application_id=old.id)))
    assert bodies == {"(removed)"}
    from fundapp.review.models import CaseNote

    assert set(db.session.scalars(sa.select(CaseNote.body))) == {"(removed)"}
    assert db.session.get(Application, recent.id).need  # closed recently: kept
    assert ledger_csv(fund) == books_before  # the books are never touched
    register = list(exports.register_rows(fund))
    assert register[0][1:3] == ["(removed)", "(removed)"] and "12 Mill St" not in str(register)
    assert verify_chain().first_broken_id is None
    assert "personal details of 0 cases" in runner.invoke(args=["fund", "purge-closed"]).output  # done once
