"""A whole world of someone else's objects in a fund, for the tests that ask for them as an outsider
(object-level access, the fuzzing of ids, the backup)."""
from __future__ import annotations

import io
from datetime import date

from werkzeug.datastructures import FileStorage

from fundapp.accounts import services as accounts
from fundapp.accounts.models import Member, MembershipClaim, Role
from fundapp.applications import documents as application_documents
from fundapp.applications import services as applications
from fundapp.applications.models import Application
from fundapp.donations import booking
from fundapp.donations.models import MonthlyGift
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from fundapp.ledger import transfers
from fundapp.payments.facts import PaymentSettled
from fundapp.review import services as review
from fundapp.review.models import GrantPayment
from fundapp.setup import init_fund
from tests.conftest import PASSWORD, enrol
from tests.factories import PDF, midday


def someone_elses_world(fund: Fund, tag: str) -> dict[str, int]:
    """In ``fund``: a member's paid grant with a document, a trustee, a donor's gift and monthly pledge, and a
    transfer proposed to a partner fund of the installation."""
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
    document, = application_documents.add_documents(application, [FileStorage(io.BytesIO(PDF), "lease.pdf", "application/pdf")],
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
    partner = init_fund({"slug": f"{tag}-partner", "name": f"Partner of {tag}", "legal_name": f"Partner of {tag}",
                         "ein": "12-3456789", "legal_form": "501(c)(5)", "currency": fund.currency,
                         "contact_email": f"partner-{tag}@example.org"}).fund
    transfer = transfers.propose_transfer(fund, partner, 1_000, f"{tag}'s balance", actor=trustee)
    db.session.commit()
    return {"application_id": application.id, "document_id": document.id, "donation_id": gift.id,
            "gift_id": pledge.id, "payment_id": payment.id, "user_id": trustee.id, "donor_id": gift.donor_id, "claim_id": claim.id,
            "token": gift.token, "transfer_id": transfer.id}
