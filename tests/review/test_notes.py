"""The trustees' notes on a case: never shown to the member; a sealed note is read only by its author and
the case's assigned reviewers; its words never reach the audit trail, which every trustee reads."""
from __future__ import annotations

from fundapp.applications.models import Application
from fundapp.audit.models import AuditRecord
from fundapp.extensions import db
from tests.conftest import enrol, sign_in
from tests.factories import send, striker

SECRET = "Chemotherapy since October; the pharmacy bill is attached"


def test_a_sealed_note_is_read_only_by_its_author_and_the_assigned_reviewers(app, client, create_user,
                                                                            roster):  # noqa: F811
    striker(client, create_user, roster)
    send(client, amount="250", category="medical")
    application = db.session.scalar(db.select(Application))
    for email in ("tom@example.org", "tina@example.org", "tess@example.org"):
        create_user(email, "trustee")
    tom, tina, tess, member = (app.test_client() for _ in range(4))
    for browser, email in ((tom, "tom@example.org"), (tina, "tina@example.org"), (tess, "tess@example.org")):
        assert sign_in(browser, email).status_code == 302
    case = f"/review/{application.id}"

    assert tom.post(f"{case}/notes", data={"note": SECRET, "sealed": "y"}).status_code == 302
    assert tom.post(f"{case}/notes", data={"note": "Landlord called to confirm the amount."}).status_code == 302
    assert SECRET in tom.get(case).get_data(as_text=True)  # the author
    tina_page = tina.get(case).get_data(as_text=True)
    assert SECRET not in tina_page and "A sealed note, for the assigned reviewers only." in tina_page
    assert "Landlord called to confirm the amount." in tina_page  # an unsealed note: every trustee
    assert tina.post(f"{case}/take").status_code == 302  # Tina takes the case on
    assert SECRET in tina.get(case).get_data(as_text=True)
    assert SECRET not in tess.get(case).get_data(as_text=True)

    member_pages = client.get(f"/my/{application.id}").get_data(as_text=True) + client.get("/my").get_data(as_text=True)
    assert SECRET not in member_pages and "Landlord called" not in member_pages
    trail = " ".join(str(r.after) for r in db.session.scalars(db.select(AuditRecord)))
    assert SECRET not in trail and "case.note_added" in " ".join(db.session.scalars(db.select(AuditRecord.action)))
    assert SECRET not in tess.get("/audit/").get_data(as_text=True)


def test_an_empty_note_is_refused_and_a_trustee_cannot_note_their_own_case(app, client, create_user,
                                                                          roster):  # noqa: F811
    from fundapp.accounts import services as accounts
    from fundapp.accounts.models import Role

    rosa = striker(client, create_user, roster)
    send(client, amount="250")
    application = db.session.scalar(db.select(Application))
    tom = app.test_client()
    create_user("tom@example.org", "trustee")
    sign_in(tom, "tom@example.org")
    empty = tom.post(f"/review/{application.id}/notes", data={"note": "   "}, follow_redirects=True)
    assert "Write the note first." in empty.get_data(as_text=True)
    accounts.set_roles(rosa, roster, [Role.APPLICANT, Role.TRUSTEE], actor=None)
    enrol(rosa)
    db.session.commit()
    client.post("/logout")
    sign_in(client, "rosa@example.org")
    own = client.post(f"/review/{application.id}/notes", data={"note": "about me", "sealed": "y"},
                      follow_redirects=True)
    assert "You cannot act on your own application" in own.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditRecord)
                             .where(AuditRecord.action == "case.note_added")) == 0
