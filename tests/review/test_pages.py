"""The trustees' pages: the queue, the case, decisions and payments through the forms."""
from __future__ import annotations

import io
from datetime import date

from fundapp.applications.models import Application
from fundapp.applications.services import update_rules
from fundapp.applications.states import Status
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from fundapp.review import recusal
from tests.conftest import sign_in
from tests.factories import PDF, fund_with, send, striker


def sent_case(client, create_user, roster, amount: str) -> Application:  # noqa: F811
    """A striking member applies for ``amount`` dollars through the pages, then signs out."""
    striker(client, create_user, roster)
    send(client, amount=amount)
    client.post("/logout")
    return db.session.scalar(db.select(Application).order_by(Application.id.desc()))


def test_trustees_work_a_large_case_from_the_queue_to_paid(client, create_user, roster):  # noqa: F811
    fund = roster
    fund_with(fund, 500_000)
    update_rules(fund, actor=None, weekly_cap_cents=1_000_00, category_cap_cents=1_000_00)
    striker(client, create_user, roster)
    assert send(client, amount="700", documents=(io.BytesIO(PDF), "lease.pdf")).status_code == 302  # above $500
    application = db.session.scalar(db.select(Application))
    client.post("/logout")
    for email, name in (("tom@example.org", "Tom Trustee"), ("tina@example.org", "Tina Trustee")):
        create_user(email, "trustee", name=name)

    sign_in(client, "tom@example.org")
    queue = client.get("/review/").get_data(as_text=True)
    assert f"#{application.id}" in queue and "$700.00" in queue and "$5,000.00" in queue  # available to grant
    page = client.get(f"/review/{application.id}").get_data(as_text=True)
    assert "Mill St Rentals" in page and "lease.pdf" in page and "version 2" in page
    asked = client.post(f"/review/{application.id}/question", data={"body": "Is the rent due on the 1st?"},
                        follow_redirects=True)
    assert "Your question is sent to the member." in asked.get_data(as_text=True)
    db.session.refresh(application)
    assert application.status == Status.INFO_REQUESTED
    application.status = Status.IN_REVIEW  # the member's answer is tested in tests/applications
    db.session.commit()
    first = client.post(f"/review/{application.id}/approve", data={"amount": "700", "criteria": "rent, lease seen"},
                        follow_redirects=True).get_data(as_text=True)
    assert "needs another trustee" in first
    assert ledger.balance(fund, "Liabilities:GrantsPayable") == 0
    client.post("/logout")

    sign_in(client, "tina@example.org")
    page = client.get(f"/review/{application.id}").get_data(as_text=True)
    assert "Tom Trustee: $700.00" in page  # the second trustee sees the first's decision
    client.post(f"/review/{application.id}/approve", data={"amount": "700"})
    db.session.refresh(application)
    assert application.status == Status.APPROVED
    assert ledger.available_to_grant(fund) == 500_000 - 70_000
    paid = client.post(f"/review/{application.id}/pay", data={
        "amount": "700", "method": "cheque", "reference": "1042", "paid_on": "2026-11-27"}, follow_redirects=True)
    assert "The payment is recorded in the books." in paid.get_data(as_text=True)
    db.session.refresh(application)
    assert application.status == Status.PAID
    assert ledger.balance(fund, "Liabilities:GrantsPayable") == 0 and ledger.balance(fund, "Assets:Bank") == 430_000


def test_refusals_come_back_as_messages_and_change_nothing(client, create_user, roster):  # noqa: F811
    fund = roster
    fund_with(fund, 10_000)
    application = sent_case(client, create_user, roster, "250")
    create_user("tom@example.org", "trustee")
    sign_in(client, "tom@example.org")
    broke = client.post(f"/review/{application.id}/approve", data={"amount": "250"}, follow_redirects=True)
    assert "available to grant, less than $250.00" in broke.get_data(as_text=True)
    bad = client.post(f"/review/{application.id}/approve", data={"amount": "lots"}, follow_redirects=True)
    assert "Write the amount in numbers" in bad.get_data(as_text=True)
    no_note = client.post(f"/review/{application.id}/deny", data={"reason": "other"}, follow_redirects=True)
    assert "Write a short note" in no_note.get_data(as_text=True)
    db.session.refresh(application)
    assert application.status == Status.SUBMITTED and ledger.balance(fund, "Liabilities:GrantsPayable") == 0
    assert client.get("/review/999").status_code == 404


def test_the_case_file_of_a_paid_grant_holds_every_pub_3833_fact(client, create_user, roster):  # noqa: F811
    from pypdf import PdfReader

    from fundapp.review import services as review

    fund = roster
    fund_with(fund, 500_000)
    striker(client, create_user, roster)
    send(client, amount="250", documents=(io.BytesIO(PDF), "lease.pdf"))
    application = db.session.scalar(db.select(Application))
    client.post("/logout")
    tom = create_user("tom@example.org", "trustee", name="Tom Trustee")
    tina = create_user("tina@example.org", "trustee", name="Tina Trustee")
    recusal.declare_relationship(fund, tina, "A-1", "neighbour")
    db.session.commit()
    review.approve(fund, application, 20_000, actor=tom, note="The rest is above the category cap.",
                   criteria="rent arrears; lease seen")
    review.record_payment(fund, application, amount_cents=20_000, method="cheque", reference="1042",
                          paid_on=date(2026, 11, 27), actor=tom)
    db.session.commit()
    sign_in(client, "tom@example.org")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(
        client.get(f"/review/{application.id}/casefile.pdf").data)).pages)
    for fact in ("Test Person (member A-1, North Plant)", "12 Mill St", "Rent or mortgage", "December", "250.00 USD", "200.00 USD",
                 "version 1", "Tom Trustee", "rent arrears; lease seen", "Tina Trustee", "declared: neighbour",
                 "lease.pdf", "application/pdf", "1042", "Mill St Rentals"):
        assert fact in text, fact
    letter = PdfReader(io.BytesIO(client.get(f"/review/{application.id}/award.pdf").data)).pages[0].extract_text()
    assert "approved a grant of 200.00 USD for rent or mortgage" in letter and "You asked for 250.00" in letter


def test_batch_sheet_lists_payees_and_the_total(client, create_user, fund):
    from pypdf import PdfReader

    from fundapp.review import services as review

    fund_with(fund, 1_000_000)
    tom = create_user("tom@example.org", "trustee")
    from fundapp.accounts.models import Member
    from fundapp.applications.services import current_rules

    user = create_user("s1@example.org", "applicant", name="Sam Striker")
    member = Member(fund_id=fund.id, member_id="S-1", first_name="Sam", last_name="Striker", worksite="N", unit="U",
                    on_strike=True, user_id=user.id)
    db.session.add(member)
    db.session.flush()
    application = Application(fund_id=fund.id, applicant_id=user.id, member_id=member.id, rules_id=current_rules(fund).id,
                              status="submitted", category="utilities", amount_requested_cents=12_345,
                              amount_paid_cents=0, payee_kind="utility", payee_name="City Power",
                              payee_details="Account 99-1")
    db.session.add(application)
    db.session.commit()
    review.approve(fund, application, 12_345, actor=tom)
    db.session.commit()
    sign_in(client, "tom@example.org")
    assert "City Power" in client.get("/review/payments").get_data(as_text=True)
    sheet = client.get(f"/review/payments/sheet.pdf?grants={application.id}")
    text = PdfReader(io.BytesIO(sheet.data)).pages[0].extract_text()
    assert "City Power" in text and "Account 99-1" in text and "123.45" in text and "1 payments" in text
    form = {"grants": [str(application.id)], "method": "cheque", "reference": "3001", "paid_on": "2026-11-27"}
    asked = client.post("/review/payments/batch", data=form).get_data(as_text=True)
    assert "Record 1 payment of $123.45 in all, by Cheque, dated 2026-11-27" in asked and "City Power" in asked
    assert f'name="grants" value="{application.id}"' in asked and 'name="code"' in asked  # the code is asked here
    db.session.refresh(application)
    assert application.amount_paid_cents == 0  # nothing is paid before the second step
    done = client.post("/review/payments/batch", data={**form, "confirmed": "yes"}, follow_redirects=True)
    assert "1 payment recorded." in done.get_data(as_text=True)
    db.session.refresh(application)
    assert application.status == Status.PAID


def test_a_large_payment_asks_for_a_fresh_authenticator_code(client, create_user, roster, app):  # noqa: F811
    from fundapp.review import services as review

    fund = roster
    app.config["STEP_UP_ABOVE_CENTS"] = 10_000
    fund_with(fund, 500_000)
    application = sent_case(client, create_user, roster, "250")
    tom = create_user("tom@example.org", "trustee")
    review.approve(fund, application, 25_000, actor=tom)
    db.session.commit()
    sign_in(client, "tom@example.org")
    form = {"amount": "250", "method": "cheque", "reference": "1", "paid_on": "2026-11-27"}
    from tests.conftest import PASSWORD, authenticator_code

    for wrong in ("", PASSWORD, "123456"):  # no code, the password (no longer enough), a wrong code
        refused = client.post(f"/review/{application.id}/pay", data={**form, "code": wrong}, follow_redirects=True)
        assert "need a fresh code from your authenticator app" in refused.get_data(as_text=True)
    db.session.refresh(application)
    assert application.amount_paid_cents == 0
    small = client.post(f"/review/{application.id}/pay", data={**form, "amount": "100"}, follow_redirects=True)
    assert "recorded in the books" in small.get_data(as_text=True)  # under the limit: no code asked
    code = authenticator_code("tom@example.org")
    ok = client.post(f"/review/{application.id}/pay", data={**form, "amount": "150", "code": code},
                     follow_redirects=True)
    assert "recorded in the books" in ok.get_data(as_text=True)
    db.session.refresh(application)
    assert application.status == Status.PAID


def test_instalments_ask_for_a_fresh_code_on_the_one_that_crosses_the_limit(client, create_user, roster, app):  # noqa: F811
    """A $2,500 grant paid as 1,000 + 1,000 + 500 with the limit at $2,000: what left the grant within the day
    counts, so the third instalment needs the code (it was 0 of 3 before)."""
    from fundapp.review import services as review
    from tests.conftest import authenticator_code

    fund = roster
    app.config["STEP_UP_ABOVE_CENTS"] = 200_000
    fund_with(fund, 1_000_000)
    update_rules(fund, actor=None, weekly_cap_cents=5_000_00, category_cap_cents=5_000_00, strike_cap_cents=5_000_00,
                 dual_approval_above_cents=5_000_00)
    application = sent_case(client, create_user, roster, "2500")
    tom = create_user("tom@example.org", "trustee")
    review.approve(fund, application, 250_000, actor=tom)
    db.session.commit()
    sign_in(client, "tom@example.org")
    form = {"method": "ach", "reference": "", "paid_on": "2026-11-27"}
    for amount in ("1000", "1000"):
        page = client.post(f"/review/{application.id}/pay", data={**form, "amount": amount}, follow_redirects=True)
        assert "recorded in the books" in page.get_data(as_text=True)
    crossing = client.post(f"/review/{application.id}/pay", data={**form, "amount": "500"}, follow_redirects=True)
    assert "need a fresh code from your authenticator app" in crossing.get_data(as_text=True)
    db.session.refresh(application)
    assert application.amount_paid_cents == 200_000
    done = client.post(f"/review/{application.id}/pay",
                       data={**form, "amount": "500", "code": authenticator_code("tom@example.org")},
                       follow_redirects=True)
    assert "recorded in the books" in done.get_data(as_text=True)
    db.session.refresh(application)
    assert application.status == Status.PAID and application.amount_paid_cents == 250_000


def test_approving_twice_by_a_double_click_is_answered_without_an_error(client, create_user, roster):  # noqa: F811
    from fundapp.review.models import Approval

    fund = roster
    fund_with(fund, 500_000)
    application = sent_case(client, create_user, roster, "250")
    create_user("tom@example.org", "trustee")
    sign_in(client, "tom@example.org")
    first, second = (client.post(f"/review/{application.id}/approve", data={"amount": "250"}) for _ in range(2))
    assert first.status_code == second.status_code == 302
    page = client.get(f"/review/{application.id}").get_data(as_text=True)
    assert "already approved; nothing more was done" in page
    assert db.session.scalar(db.select(db.func.count(Approval.id))) == 1
    assert -ledger.balance(fund, "Liabilities:GrantsPayable") == 25_000


def test_queue_filters_and_the_members_own_award_letter(client, create_user, roster):  # noqa: F811
    from pypdf import PdfReader

    from fundapp.review import services as review

    fund = roster
    fund_with(fund, 500_000)
    striker(client, create_user, roster)
    send(client, amount="250")
    application = db.session.scalar(db.select(Application))
    assert client.get(f"/my/{application.id}/award.pdf").status_code == 404  # nothing approved yet
    client.post("/logout")
    tom = create_user("tom@example.org", "trustee")
    sign_in(client, "tom@example.org")
    row = f'href="/review/{application.id}"'
    assert row in client.get("/review/?worksite=north plant&min=200&max=300").get_data(as_text=True)
    assert row not in client.get("/review/?worksite=South Plant").get_data(as_text=True)
    assert row not in client.get("/review/?min=300").get_data(as_text=True)
    assert row not in client.get("/review/?flagged=1").get_data(as_text=True)
    assert client.get("/review/?min=lots").status_code == 400
    review.approve(fund, application, 25_000, actor=tom)
    db.session.commit()
    client.post("/logout")
    sign_in(client, "rosa@example.org")
    assert "Your award letter (PDF)" in client.get(f"/my/{application.id}").get_data(as_text=True)
    letter = PdfReader(io.BytesIO(client.get(f"/my/{application.id}/award.pdf").data)).pages[0].extract_text()
    assert "approved a grant of 250.00 USD" in letter

    # her next application shows the trustees what she has had and what the caps leave
    assert send(client, amount="40").status_code == 302
    again = db.session.scalar(db.select(Application).where(Application.id != application.id))
    client.post("/logout")
    sign_in(client, "tom@example.org")
    queue = client.get("/review/").get_data(as_text=True)
    row = queue[queue.index(f'href="/review/{again.id}"'):]
    row = row[:row.index("</tr>")]
    assert "$250.00" in row and "$1,250.00 left of the $1,500.00 strike cap" in row and "Over a cap" not in row
    again.amount_requested_cents = 1_300_00  # e.g. asked for before the earlier grant was decided
    db.session.commit()
    row = client.get("/review/").get_data(as_text=True)
    assert "Over a cap" in row[row.index(f'href="/review/{again.id}"'):]


def test_the_queue_costs_the_same_number_of_queries_for_3_or_12_cases(client, create_user, fund):
    import sqlalchemy as sa

    from fundapp.accounts.models import Member
    from fundapp.applications.services import current_rules

    create_user("tom@example.org", "trustee")
    sign_in(client, "tom@example.org")
    rules = current_rules(fund)

    def add_cases(count, start):
        for n in range(start, start + count):
            user = create_user(f"q{n}@example.org", "applicant")
            member = Member(fund_id=fund.id, member_id=f"Q-{n}", first_name="Q", last_name=str(n), worksite="N",
                            unit="U", on_strike=True, user_id=user.id)
            db.session.add(member)
            db.session.flush()
            db.session.add(Application(fund_id=fund.id, applicant_id=user.id, member_id=member.id, rules_id=rules.id,
                                       status="submitted", category="rent", amount_requested_cents=10_000 + n,
                                       amount_paid_cents=0, address=f"{n} Elm St"))
        db.session.commit()

    def queries_for_queue():
        seen = []
        listener = lambda *args, **kwargs: seen.append(1)  # noqa: E731
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get("/review/").status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    add_cases(3, 0)
    queries_for_queue()  # the first request also loads what later ones find cached
    few = queries_for_queue()
    # the trustee with their session and roles (and the fund's stamp), the cases and their earlier grants,
    # approvals, the trustee's relationships, the approvers' names, the balances: so it cannot creep back up
    assert few <= 7
    add_cases(9, 3)
    assert queries_for_queue() == few
