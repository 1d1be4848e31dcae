"""Object-level access: every route that takes an object's id, asked by someone the route is open to
for an object that is not theirs to see (another fund's, another member's, another donor's), answers
404 or 403, never the object, and changes nothing.

The routes are read from the app's URL map, so a new route with an id in its URL is covered (or fails
``test_every_id_route_is_covered``) without anyone remembering to add it here.
"""
from __future__ import annotations

import io
from datetime import date

import pytest
from werkzeug.datastructures import FileStorage

from fundapp.accounts import services as accounts
from fundapp.accounts.models import Member, MembershipClaim, Role
from fundapp.applications import services as applications
from fundapp.applications.models import Application
from fundapp.audit.models import AuditRecord
from fundapp.donations import booking
from fundapp.donations.models import Donation, MonthlyGift
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from fundapp.payments.facts import PaymentSettled
from fundapp.review import services as review
from fundapp.review.models import GrantPayment
from tests.applications.test_applications import PDF
from tests.conftest import PASSWORD, enrol, run_worker_once, sign_in
from tests.factories import midday
from tests.test_access import EXPECTED

ID_ARGUMENTS = {"application_id", "document_id", "donation_id", "gift_id", "payment_id", "user_id", "claim_id"}


def someone_elses_world(fund: Fund, tag: str) -> dict[str, int]:
    """In ``fund``: a member's paid grant with a document, a trustee, a donor's gift and monthly pledge."""
    trustee = accounts.create_user(fund, email=f"trustee-{tag}@example.org", name=f"Trustee {tag}",
                                   password=PASSWORD, roles=[Role.TRUSTEE])
    enrol(trustee)
    member_user = accounts.create_user(fund, email=f"member-{tag}@example.org", name=f"Member {tag}",
                                       password=PASSWORD, roles=[Role.APPLICANT])
    member = Member(fund_id=fund.id, member_id=f"M-{tag}", first_name="M", last_name=tag, worksite="North",
                    unit="U", on_strike=True, user_id=member_user.id)
    db.session.add(member)
    db.session.flush()
    application = Application(fund_id=fund.id, applicant_id=member_user.id, member_id=member.id,
                              rules_id=applications.current_rules(fund).id, status="submitted", category="rent",
                              amount_requested_cents=20_000, amount_paid_cents=0, payee_kind="member",
                              payee_name=f"Member {tag}", payee_details="cheque", address=f"1 {tag} St")
    db.session.add(application)
    db.session.flush()
    document, = applications.add_documents(application, [FileStorage(io.BytesIO(PDF), "lease.pdf", "application/pdf")],
                                           actor=member_user)
    ledger.post_entry(fund, entry_date=date(2026, 11, 2), memo="gifts", source_kind="t", source_id=f"gifts-{tag}",
                      postings=[("Assets:Bank", 100_000), ("Income:Donations", -100_000)])
    review.approve(fund, application, 20_000, actor=trustee, decided_on=date(2026, 11, 3))
    review.record_payment(fund, application, amount_cents=5_000, method="cheque", reference=f"{tag}-1",
                          paid_on=date(2026, 11, 4), actor=trustee)
    payment = db.session.scalar(db.select(GrantPayment).filter_by(application_id=application.id))
    gift = booking.record_settled_payment(fund, PaymentSettled(
        charge_id=f"ch_{tag}", payment_intent_id=None, invoice_id=None, subscription_id=f"sub_{tag}",
        customer_id=None, gross_cents=2_500, fee_cents=0, net_cents=2_500, currency=fund.currency,
        at=midday(fund, date(2026, 11, 5)), email=f"donor-{tag}@example.org", name=f"Donor {tag}"), notify=False)
    pledge = db.session.scalar(db.select(MonthlyGift).filter_by(donor_id=gift.donor_id))
    claimant = accounts.create_user(fund, email=f"claimant-{tag}@example.org", name=f"Claimant {tag}",
                                    password=PASSWORD, roles=[Role.APPLICANT])
    claim = MembershipClaim(fund_id=fund.id, member_id=member.id, claimant_id=claimant.id, holder_id=member_user.id)
    db.session.add(claim)
    db.session.commit()
    return {"application_id": application.id, "document_id": document.id, "donation_id": gift.id,
            "gift_id": pledge.id, "payment_id": payment.id, "user_id": trustee.id, "donor_id": gift.donor_id, "claim_id": claim.id,
            "token": gift.token}


def other_fund() -> Fund:
    fund = Fund(slug="other-local", name="Other Local", legal_name="Other Local Fund", ein="98-7654321",
                legal_form="501(c)(5)", currency="USD", contact_email="fund@other.example.org")
    db.session.add(fund)
    db.session.commit()
    return fund


def id_routes(app):
    for rule in app.url_map.iter_rules():
        arguments = set(rule.arguments) & ID_ARGUMENTS
        if arguments:
            yield rule.endpoint, "GET" if "GET" in rule.methods else "POST", rule


def snapshot():
    """What a request must not change: statuses, amounts, voids, refunds, roles, second factors."""
    db.session.rollback()
    return (
        sorted(db.session.execute(db.select(Application.id, Application.status, Application.amount_paid_cents))),
        sorted(db.session.execute(db.select(GrantPayment.id, GrantPayment.voided_at))),
        sorted(db.session.execute(db.select(Donation.id, Donation.refunded_cents, Donation.wall_status))),
        sorted(db.session.execute(db.select(MonthlyGift.id, MonthlyGift.ended_at))),
        sorted(db.session.execute(db.select(MembershipClaim.id, MembershipClaim.resolved_at))),
        db.session.scalar(db.select(db.func.count(AuditRecord.id)).where(AuditRecord.action.not_in(
            ["document.view"]))),
    )


def test_every_id_route_is_covered(app):
    roles = {EXPECTED[endpoint] if isinstance(EXPECTED[endpoint], str) else "roles"
             for endpoint, _m, _r in id_routes(app)}
    assert roles <= {"roles", "donor_link"}, "an id route open to everyone needs its own object check here"


def ask_everything(client, app, ids, allowed) -> list[str]:
    leaks = []
    for endpoint, method, rule in id_routes(app):
        if not allowed(EXPECTED[endpoint]):
            continue
        values = {arg: ids[arg] for arg in rule.arguments}
        with app.test_request_context():
            from flask import url_for

            url = url_for(endpoint, **values)
        response = client.open(url, method=method, data={"reason": "x", "amount": "1", "code": "000000",
                                                         "status": "hidden"})
        if response.status_code not in (403, 404):
            leaks.append(f"{method} {url}: {response.status_code}")
    return leaks


@pytest.mark.parametrize("persona", ["trustee", "treasurer"])
def test_trustees_and_the_treasurer_never_reach_another_funds_objects(app, client, fund, create_user, persona):
    theirs = someone_elses_world(other_fund(), "other")
    someone_elses_world(fund, "ours")  # this fund has objects too: the ids are real ones, just not ours
    create_user(f"{persona}@example.org", *({"trustee": ["trustee"], "treasurer": ["treasurer", "trustee"]}[persona]))
    assert sign_in(client, f"{persona}@example.org").status_code == 302
    before = snapshot()
    leaks = ask_everything(client, app, theirs, lambda rule: isinstance(rule, set) and persona in rule)
    assert leaks == []
    assert snapshot() == before


def test_a_member_never_reaches_another_members_application_or_documents(app, client, fund, create_user):
    theirs = someone_elses_world(fund, "neighbour")
    rosa = create_user("rosa@example.org", "applicant")
    db.session.add(Member(fund_id=fund.id, member_id="R-1", first_name="Rosa", last_name="N", worksite="North",
                          unit="U", on_strike=True, user_id=rosa.id))
    db.session.commit()
    sign_in(client, "rosa@example.org")
    before = snapshot()
    leaks = ask_everything(client, app, theirs, lambda rule: isinstance(rule, set) and "applicant" in rule)
    assert leaks == []
    assert snapshot() == before


def test_a_donor_never_reaches_another_donors_gifts(app, client, fund, smtp):
    import re

    theirs = someone_elses_world(fund, "stranger")
    mine = someone_elses_world(fund, "me")
    client.post("/donor/login", data={"email": "donor-me@example.org"})  # the emailed sign-in link
    run_worker_once()
    link = re.search(r"https?://[^/\s]+(/donor/link/\S+)", smtp.messages[-1].get_content()).group(1)
    client.get(link)
    assert client.get("/donor/").status_code == 200
    before = snapshot()
    leaks = ask_everything(client, app, theirs, lambda rule: rule == "donor_link")
    assert leaks == []
    assert snapshot() == before
    assert client.get(f"/donor/receipt/{mine['donation_id']}.pdf").status_code == 200  # their own: yes
