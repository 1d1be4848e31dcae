"""The host's pages (/host/): opening a fund, assigning a payment that named no fund, the records of no fund; and
what one fund's treasurer must not see of another's."""
from __future__ import annotations

from fundapp.accounts.models import Role, User
from fundapp.audit.models import AuditRecord
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.mail import OutboxMessage, queue_mail
from tests.conftest import enrol, sign_in
from tests.funds.test_several_funds import open_second

FORM = {"slug": "unit-3", "name": "Unit Three Fund", "legal_name": "Unit Three Hardship Fund", "ein": "11-2223334",
        "legal_form": "501(c)(5)", "contact_email": "unit3@example.org", "goal": "10000",
        "treasurer_name": "Lee Treasurer", "treasurer_email": "lee@example.org"}


def operator(create_user, email="ops@example.org"):
    user = create_user(email, "donor", name="Olga Operator")
    user.is_operator = True
    enrol(user)
    db.session.commit()
    return user


def test_an_operator_opens_a_fund_from_the_host_page(client, fund, create_user):
    operator(create_user)
    sign_in(client, "ops@example.org")
    page = client.get("/host/").get_data(as_text=True)
    assert fund.name in page and "Open a fund" in page
    refused = client.post("/host/funds/new", data={**FORM, "slug": "Unit Three"})
    assert refused.status_code == 200 and "lower-case letters" in refused.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Fund.id))) == 1
    opened = client.post("/host/funds/new", data=FORM)
    assert opened.status_code == 302, opened.get_data(as_text=True)
    third = db.session.scalar(db.select(Fund).filter_by(slug="unit-3"))
    assert third.goal_cents == 1_000_000 and third.name == "Unit Three Fund"
    lee = db.session.scalar(db.select(User).filter_by(email="lee@example.org"))
    assert lee.roles_in(third.id) == {Role.TREASURER}
    listing = client.get("/host/").get_data(as_text=True)
    assert "Unit Three Fund" in listing and 'href="/f/unit-3/"' in listing
    opened_by = db.session.scalar(db.select(AuditRecord.actor_id).filter_by(action="fund.open"))
    assert opened_by == db.session.scalar(db.select(User.id).filter_by(email="ops@example.org"))


def test_a_trustee_or_treasurer_is_not_an_operator(client, fund, create_user):
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    assert client.get("/host/").status_code == 403
    assert client.post("/host/funds/new", data=FORM).status_code == 403
    assert db.session.scalar(db.select(db.func.count(Fund.id))) == 1


def test_records_of_no_fund_are_the_operators_alone(client, fund, create_user):
    operator(create_user)
    create_user("tom@example.org", "trustee")
    sign_in(client, "tom@example.org")
    # connecting an authenticator app is the person's, recorded with no fund
    assert db.session.scalar(db.select(db.func.count(AuditRecord.id)).where(
        AuditRecord.fund_id.is_(None), AuditRecord.action == "user.second_factor_enabled")) == 2
    trail = client.get("/audit/").get_data(as_text=True)
    assert "set up a second factor" not in trail
    assert client.get("/host/audit").status_code == 403
    client.post("/logout")
    sign_in(client, "ops@example.org")
    host_trail = client.get("/host/audit").get_data(as_text=True)
    assert host_trail.count("set up a second factor") == 2


def test_each_treasurer_sees_only_their_funds_waiting_mail(client, fund, create_user):
    second = open_second()
    create_user("tess@example.org", "treasurer")
    for fund_id, to in ((fund.id, "first.donor@example.org"), (second.id, "second.donor@example.org")):
        message = queue_mail(to, "Your receipt", "Thank you", fund_id=fund_id)
        message.last_error, message.attempts = "SMTP refused", 3
    db.session.commit()
    sign_in(client, "tess@example.org")
    page = client.get("/admin/").get_data(as_text=True)
    assert "first.donor@example.org" in page and "second.donor@example.org" not in page
    assert db.session.scalar(db.select(db.func.count(OutboxMessage.id))) >= 2
