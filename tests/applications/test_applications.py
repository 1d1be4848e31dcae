"""Applying: eligibility, drafts, documents checked by content, caps quoted from the versioned rules,
one open application, withdrawing, answering; privacy of applications and documents."""
from __future__ import annotations

import io

import pytest

from fundapp.applications import services
from fundapp.applications.models import Application, ApplicationDocument
from fundapp.applications.states import TRANSITIONS, InvalidTransition, Status, transition
from fundapp.audit.models import AuditRecord
from fundapp.extensions import db
from fundapp.mail import OutboxMessage
from tests.conftest import sign_in
from tests.factories import ANSWERS, ELF, PDF, PNG, send, striker


@pytest.mark.parametrize("start", list(Status))
@pytest.mark.parametrize("end", list(Status))
def test_state_machine_allows_exactly_the_table(app, fund, start, end):
    application = Application(id=1, fund_id=fund.id, status=start)
    if (start, end) in TRANSITIONS:
        transition(application, end)
        assert application.status == end
    else:
        with pytest.raises(InvalidTransition):
            transition(application, end)
        assert application.status == start


def test_who_may_apply(client, create_user, roster):
    create_user("unlinked@example.org", "applicant")
    sign_in(client, "unlinked@example.org")
    page = client.get("/apply").get_data(as_text=True)
    assert "First confirm your union membership" in page and "/account/membership" in page
    client.post("/logout")
    striker(client, create_user, roster, email="ben@example.org", member_id="A-2", last_name="Smith")
    not_striking = client.get("/apply").get_data(as_text=True)
    assert "does not show you on strike" in not_striking
    client.post("/logout")
    create_user("copycat@example.org", "applicant")
    sign_in(client, "copycat@example.org")
    linked_elsewhere = client.post("/account/membership", data={"member_id": "A-2", "last_name": "Smith"})
    assert "could not confirm your membership" in linked_elsewhere.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Application.id))) == 0


def test_draft_then_documents_then_submit_and_a_second_is_refused_with_the_rule(client, create_user, roster):
    user = striker(client, create_user, roster)
    page = client.get("/apply").get_data(as_text=True)
    assert "You can ask for up to $300.00 now." in page  # the weekly cap binds first
    saved = client.post("/apply", data={"category": "rent", "amount": "450", "need": "Rent", "save": "Save"},
                        content_type="multipart/form-data")
    assert saved.status_code == 302
    again = client.get("/apply").get_data(as_text=True)
    assert 'value="450.00"' in again  # the draft is kept
    too_much = send(client, documents=(io.BytesIO(PDF), "lease.pdf"))
    assert too_much.status_code == 422
    assert "You have $300.00 left of the $300.00 cap for any 7 days." in too_much.get_data(as_text=True)
    assert db.session.scalar(db.select(Application)).status == Status.DRAFT
    assert db.session.scalar(db.select(db.func.count(ApplicationDocument.id))) == 1  # the lease is kept in the draft
    sent = send(client, amount="250")
    assert sent.status_code == 302
    application = db.session.scalar(db.select(Application))
    assert application.status == Status.SUBMITTED and application.amount_requested_cents == 25_000
    assert application.rules.version == 1 and len(application.documents) == 1
    assert "Submitted on" in client.get(f"/my/{application.id}").get_data(as_text=True)
    mail = db.session.scalar(db.select(OutboxMessage).filter_by(to_address=user.email))
    assert mail.subject == f"We received your application #{application.id}"
    second = client.get("/apply")
    assert second.status_code == 409
    assert "allow one open application at a time" in second.get_data(as_text=True)


def test_incomplete_application_lists_what_is_missing_and_keeps_the_rest(client, create_user, roster):
    striker(client, create_user, roster)
    response = send(client, household_size="", need="", attested="")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter how many people live in your household" in page
    assert "what the money is for" in page and "confirm that what you wrote is true" in page
    assert db.session.scalar(db.select(Application)).status == Status.DRAFT
    assert 'value="Mill St Rentals"' in client.get("/apply").get_data(as_text=True)


@pytest.mark.parametrize("name, body, message", [
    ("lease.png", PDF, "named as a PNG file but is a PDF file"),
    ("lease.pdf", ELF, "is not a PDF, JPEG or PNG file"),
    ("big.pdf", PDF + b"0" * (10 * 1024 * 1024), "larger than 10 MB"),
    ("empty.pdf", b"", "is empty"),
    ("../../etc/passwd.pdf", PDF, "folders"),
])
def test_bad_uploads_are_refused_clearly_and_nothing_is_stored(client, create_user, roster, app, name, body, message):
    import os

    striker(client, create_user, roster)
    before = set(os.listdir(app.config["DOCUMENTS_DIR"]))
    response = client.post("/apply", data={**ANSWERS, "documents": (io.BytesIO(body), name), "save": "Save"},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(ApplicationDocument.id))) == 0
    assert set(os.listdir(app.config["DOCUMENTS_DIR"])) == before


def test_a_png_photo_is_taken_and_served_as_a_private_download(client, create_user, roster):
    striker(client, create_user, roster)
    client.post("/apply", data={**ANSWERS, "documents": (io.BytesIO(PNG), "bill photo.PNG"), "save": "Save"},
                content_type="multipart/form-data")
    document = db.session.scalar(db.select(ApplicationDocument))
    assert document.content_type == "image/png" and document.original_name == "bill photo.png"
    response = client.get(f"/documents/{document.id}")
    assert response.data == PNG
    assert response.headers["Content-Disposition"] == 'attachment; filename="bill photo.png"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert db.session.scalar(db.select(db.func.count(AuditRecord.id)).filter_by(action="document.view")) == 1


def test_nobody_else_sees_an_application_or_its_documents(client, create_user, roster):
    striker(client, create_user, roster)
    send(client, amount="100", documents=(io.BytesIO(PDF), "lease.pdf"))
    application = db.session.scalar(db.select(Application))
    document = application.documents[0]
    client.post("/logout")
    assert client.get(f"/documents/{document.id}").status_code == 302  # anonymous: sign in first
    create_user("other@example.org", "applicant")
    sign_in(client, "other@example.org")
    assert client.get(f"/documents/{document.id}").status_code == 404
    assert client.get(f"/my/{application.id}").status_code == 404
    assert client.post(f"/my/{application.id}/withdraw").status_code == 404
    assert client.get(f"/documents/{document.id + 1}").status_code == 404  # guessing ids gives nothing either
    client.post("/logout")
    create_user("donor@example.org", "donor")
    sign_in(client, "donor@example.org")
    assert client.get(f"/documents/{document.id}").status_code == 403
    client.post("/logout")
    create_user("tom@example.org", "trustee")
    sign_in(client, "tom@example.org")
    assert client.get(f"/documents/{document.id}").data == PDF  # trustees see cases


def test_caps_per_strike_and_category_follow_the_rules_version(client, create_user, roster):
    user = striker(client, create_user, roster)
    fund = roster
    services.update_rules(fund, actor=None, weekly_cap_cents=10_000_00, strike_cap_cents=600_00,
                          category_cap_cents=400_00, categories=["rent", "food"])
    db.session.commit()
    assert send(client, amount="350").status_code == 302
    first = db.session.scalar(db.select(Application))
    first.status, first.amount_approved_cents = Status.APPROVED, 35_000  # decided by trustees (issue 6)
    db.session.commit()
    refused = send(client, amount="100").get_data(as_text=True)
    assert "You have $50.00 left of the $400.00 cap for this kind of need." in refused
    food = send(client, amount="300", category="food").get_data(as_text=True)
    assert "You have $250.00 left of the $600.00 cap for this strike." in food
    assert send(client, amount="250", category="food").status_code == 302
    services.update_rules(fund, actor=None, strike_cap_cents=2_000_00)
    db.session.commit()
    versions = [a.rules.version for a in db.session.scalars(db.select(Application).order_by(Application.id))]
    assert versions == [2, 2]  # sent under version 2; version 3 changes nothing for them
    assert services.current_rules(fund).version == 3
    assert user.id == first.applicant_id


def test_withdraw_and_answer_a_question(client, create_user, roster):
    user = striker(client, create_user, roster)
    send(client, amount="100")
    application = db.session.scalar(db.select(Application))
    transition(application, Status.IN_REVIEW)
    transition(application, Status.INFO_REQUESTED)
    db.session.add(services.ApplicationMessage(application_id=application.id, author_id=user.id, kind="question",
                                               body="Can you send the lease?"))
    db.session.commit()
    page = client.get(f"/my/{application.id}").get_data(as_text=True)
    assert "The trustees asked you a question" in page and "Can you send the lease?" in page
    answered = client.post(f"/my/{application.id}/answer", data={
        "body": "Here it is.", "documents": (io.BytesIO(PDF), "lease.pdf")}, content_type="multipart/form-data")
    assert answered.status_code == 302
    db.session.refresh(application)
    assert application.status == Status.IN_REVIEW and len(application.documents) == 1
    client.post(f"/my/{application.id}/withdraw")
    db.session.refresh(application)
    assert application.status == Status.WITHDRAWN
    assert client.get("/apply").status_code == 200  # free to apply again
