"""The ``flask fund`` commands an operator runs."""
from __future__ import annotations

from fundapp.accounts import services
from fundapp.accounts.models import Member, Role, User
from fundapp.audit.models import AuditRecord
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from tests.conftest import owner_connection


def test_create_user_reads_password_from_environment(runner, fund, monkeypatch):
    monkeypatch.setenv("FUNDAPP_PASSWORD", "a long enough passphrase")
    result = runner.invoke(args=["fund", "create-user", "--email", "Tess@Example.org", "--name", "Tess",
                                 "--role", "treasurer", "--role", "trustee"])
    assert result.exit_code == 0, result.output
    user = services.find_user_by_email("tess@example.org")
    assert user.roles_in(fund.id) == {Role.TREASURER, Role.TRUSTEE}
    assert services.authenticate("tess@example.org", "a long enough passphrase") is not None


def test_create_user_prompts_for_password_when_not_in_environment(runner, fund, monkeypatch):
    monkeypatch.delenv("FUNDAPP_PASSWORD", raising=False)
    result = runner.invoke(args=["fund", "create-user", "--email", "t@example.org", "--name", "T",
                                 "--role", "trustee"], input="prompted passphrase\nprompted passphrase\n")
    assert result.exit_code == 0, result.output
    assert services.authenticate("t@example.org", "prompted passphrase") is not None


def test_create_user_refuses_weak_password_and_duplicate(runner, fund, monkeypatch):
    monkeypatch.setenv("FUNDAPP_PASSWORD", "short")
    result = runner.invoke(args=["fund", "create-user", "--email", "t@example.org", "--name", "T", "--role", "trustee"])
    assert result.exit_code == 1 and "at least 10 characters" in result.output
    monkeypatch.setenv("FUNDAPP_PASSWORD", "a long enough passphrase")
    runner.invoke(args=["fund", "create-user", "--email", "t@example.org", "--name", "T", "--role", "trustee"])
    again = runner.invoke(args=["fund", "create-user", "--email", "T@EXAMPLE.org", "--name", "T", "--role", "trustee"])
    assert again.exit_code == 1 and "already exists" in again.output
    assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_seed_demo_fills_an_empty_database_once(runner, app):
    result = runner.invoke(args=["fund", "seed-demo"])
    assert result.exit_code == 0, result.output
    assert "treasurer@demo.example.org" in result.output
    assert db.session.scalar(db.select(db.func.count(Member.id))) == 50
    users = db.session.scalar(db.select(db.func.count(User.id)))
    assert users == 5 + 32  # one per role, and the members who applied
    fund = db.session.scalar(db.select(Fund))
    lines = ledger.trial_balance(fund)
    assert sum(line.debit_cents for line in lines) == sum(line.credit_cents for line in lines) > 0
    from fundapp.applications.models import Application
    from fundapp.review.models import Approval, GrantPayment

    cases = db.session.scalars(db.select(Application)).all()
    paid = [a for a in cases if a.status == "paid"]
    assert len(paid) == 30 and len(cases) == 33 and {a.status for a in cases if a not in paid} == {"submitted", "in_review", "info_requested"}
    payments = db.session.scalars(db.select(GrantPayment)).all()
    assert sum(p.amount_cents for p in payments) == ledger.balance(fund, "Expenses:HardshipGrants") > 0
    assert ledger.balance(fund, "Liabilities:GrantsPayable") == 0  # every approved demo grant was paid
    large = next(a for a in cases if a.amount_requested_cents == 70_000)
    assert len(large.documents) == 1 and large.status == "in_review"
    assert [a.trustee_id for a in db.session.scalars(db.select(Approval).filter_by(application_id=large.id))] == \
        [db.session.scalar(db.select(User.id).filter_by(email="trustee@demo.example.org"))]  # waits for a second
    assert ledger.available_to_grant(fund) > 0
    from fundapp.donations.models import Donation
    from fundapp.mail import OutboxMessage

    gifts = db.session.scalars(db.select(Donation)).all()
    assert len(gifts) > 100 and all(g.receipt_number for g in gifts)
    assert sum(g.gross_cents for g in gifts) == -ledger.balance(fund, "Income:Donations")
    assert ledger.balance(fund, "Assets:Undeposited") == 0  # every week's cheques were deposited
    assert db.session.scalar(db.select(db.func.count(OutboxMessage.id))) == 0  # made-up donors get no mail
    again = runner.invoke(args=["fund", "seed-demo"])
    assert again.exit_code == 0 and "already there" in again.output
    assert db.session.scalar(db.select(db.func.count(User.id))) == users


def test_seed_demo_refuses_a_database_with_real_data(runner, create_user):
    create_user("real.person@union.example.org", "treasurer")
    result = runner.invoke(args=["fund", "seed-demo"])
    assert result.exit_code == 1 and "already holds real data" in result.output
    quiet = runner.invoke(args=["fund", "seed-demo", "--if-empty"])
    assert quiet.exit_code == 0 and "not adding demo data" in quiet.output
    assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_verify_audit_names_the_first_tampered_record(runner, create_user):
    create_user("a@example.org", "trustee")
    create_user("b@example.org", "trustee")
    create_user("c@example.org", "trustee")
    # each trustee: made, then connected an authenticator app
    assert "Audit trail intact: 6 records" in runner.invoke(args=["fund", "verify-audit"]).output
    second = db.session.scalars(db.select(AuditRecord.id).order_by(AuditRecord.id)).all()[1]
    with owner_connection() as owner:  # the app's own connection may not change a record
        owner.execute(db.update(AuditRecord).where(AuditRecord.id == second).values(action="user.tampered"))
    result = runner.invoke(args=["fund", "verify-audit"])
    assert result.exit_code == 1
    assert f"broken at record {second} " in result.output and "it was changed" in result.output


def test_send_mail_keeps_messages_when_smtp_is_down_then_sends(runner, app, smtp, fund):
    from fundapp.mail import OutboxMessage, queue_mail

    queue_mail("x@example.org", "Hello", "Body")
    db.session.commit()
    port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = 1  # nothing listens there
    down = runner.invoke(args=["fund", "send-mail"])
    assert down.exit_code == 1 and "failed 1" in down.output
    assert smtp.messages == []
    app.config["MAIL_PORT"] = port
    up = runner.invoke(args=["fund", "send-mail"])
    assert up.exit_code == 0 and "Sent 1" in up.output
    assert [m["Subject"] for m in smtp.messages] == ["Hello"]
    message = db.session.scalar(db.select(OutboxMessage))
    assert message.sent_at is not None and message.attempts == 2


def test_mail_waits_longer_between_tries_while_the_mail_server_is_down(app, smtp, fund):
    """The worker calls deliver_pending every second; an outage must not use up a message's tries."""
    from datetime import timedelta

    from fundapp.extensions import utcnow
    from fundapp.mail import OutboxMessage, deliver_pending, queue_mail

    queue_mail("x@example.org", "Hello", "Body")
    db.session.commit()
    port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = 1  # nothing listens there
    gaps = []
    for _try in range(3):
        assert deliver_pending() == (0, 1)
        message = db.session.scalar(db.select(OutboxMessage))
        gaps.append(round((message.next_attempt_at - utcnow()).total_seconds() / 60))
        assert deliver_pending() == (0, 0)  # not due yet: not tried, not counted
        assert db.session.scalar(db.select(OutboxMessage)).attempts == len(gaps)
        message.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert gaps == [1, 2, 4]
    app.config["MAIL_PORT"] = port
    assert deliver_pending() == (1, 0)
    assert [m["Subject"] for m in smtp.messages] == ["Hello"]


def test_a_message_another_sender_holds_is_not_sent_again_until_its_lease_ends(app, smtp, fund, monkeypatch):
    """Senders claim before they send (SQLite has no row locks): what another sender holds is skipped, even by
    the treasurer's "send now"; if that sender died before sending, the message goes once its lease is over."""
    from fundapp import mail
    from fundapp.extensions import utcnow

    mail.queue_mail("x@example.org", "Hello", "Body")
    db.session.commit()
    assert len(mail._claim(10, now=False)) == 1  # another sender took it, and died before sending
    assert mail.deliver_pending() == (0, 0)
    assert mail.deliver_pending(now=True) == (0, 0)
    assert smtp.messages == []
    later = utcnow() + mail.CLAIM_LEASE
    monkeypatch.setattr(mail, "utcnow", lambda: later)
    assert mail.deliver_pending() == (1, 0)
    assert mail.deliver_pending(now=True) == (0, 0)
    assert [m["Subject"] for m in smtp.messages] == ["Hello"]
