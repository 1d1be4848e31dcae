"""The case file and the award letter of an application, built from the records for ``reports.grants``."""
from __future__ import annotations

from flask_babel import force_locale

from fundapp.accounts.models import Member, User
from fundapp.applications.models import Application, category_name
from fundapp.audit.models import AuditRecord
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.funds.models import Fund
from fundapp.pdf_text import award_words, page_words
from fundapp.review.models import Approval, GrantPayment, Relationship
from reports.grants import (
    AwardLetterData,
    BatchSheetData,
    CaseFileData,
    render_award_letter,
    render_batch_sheet,
    render_case_file,
)


def _payee(application: Application, applicant: User) -> str:
    if application.pays_third_party:
        return f"{application.payee_name} ({application.payee_details})"
    return applicant.name


def payee_of(application: Application, names: dict[int, str] | None = None) -> tuple[str, str]:
    """(who is paid, how): the landlord, utility or provider with their details, or the member.

    ``names`` (applicant id -> name, from ``applicant_names``) spares a query per grant in a list.
    """
    if application.pays_third_party:
        return application.payee_name, application.payee_details
    name = names[application.applicant_id] if names is not None else \
        db.session.get(User, application.applicant_id).name
    return name, application.address


def applicant_names(applications: list[Application]) -> dict[int, str]:
    """applicant id -> name for a list of applications, in one query."""
    ids = {a.applicant_id for a in applications}
    return {user_id: name for user_id, name in db.session.execute(
        db.select(User.id, User.name).where(User.id.in_(ids)))} if ids else {}


def batch_sheet(fund: Fund, applications: list[Application]) -> bytes:
    names = applicant_names(applications)
    rows = [(a.id, *payee_of(a, names), (a.amount_approved_cents or 0) - a.amount_paid_cents) for a in applications]
    return render_batch_sheet(BatchSheetData(fund_name=fund.name, currency=fund.currency,
                                             prepared_on=clock.today(fund), rows=rows,
                                             generated_at=clock.local(fund)))


def case_file(fund: Fund, application: Application) -> bytes:
    """Publication 3833's facts for one grant: recipient, address, amount, purpose, criteria, who decided,
    relationships and recusals, documents, payments."""
    applicant = db.session.get(User, application.applicant_id)
    member = db.session.get(Member, application.member_id)
    names = dict(db.session.execute(db.select(User.id, User.name)).all())
    rules = application.rules
    approvals = db.session.scalars(db.select(Approval).filter_by(application_id=application.id)
                                   .order_by(Approval.id)).all()
    recusals = db.session.scalars(db.select(AuditRecord).filter_by(
        action="application.recusal", object_type="application", object_id=str(application.id))).all()
    relationships = db.session.scalars(db.select(Relationship).filter_by(member_id=member.id)).all()
    payments = db.session.scalars(db.select(GrantPayment).filter_by(application_id=application.id)
                                  .order_by(GrantPayment.id)).all()
    with force_locale("en"):
        category = category_name(application.category)
    return render_case_file(CaseFileData(
        fund_name=fund.name, legal_name=fund.legal_name, case_id=application.id, status=application.status,
        recipient_name=applicant.name, member_number=member.member_id, address=application.address,
        worksite=member.worksite, category=category, purpose=application.need,
        household=f"{application.household_size or ''} {application.household_members}".strip(),
        payee=_payee(application, applicant), amount_requested_cents=application.amount_requested_cents,
        amount_approved_cents=application.amount_approved_cents, amount_paid_cents=application.amount_paid_cents,
        currency=fund.currency,
        submitted=clock.local_date(fund, application.submitted_at).isoformat() if application.submitted_at else "not submitted",
        rules_version=rules.version,
        rules_summary=(f"caps {rules.strike_cap_cents / 100:.2f} per strike, {rules.weekly_cap_cents / 100:.2f} "
                       f"per 7 days, {rules.category_cap_cents / 100:.2f} per category; "
                       f"{rules.approvals_needed} approvals above {rules.dual_approval_above_cents / 100:.2f}"),
        decision_note=application.decision_reason,
        approvals=[(names.get(a.trustee_id, ""), clock.local_date(fund, a.created_at).isoformat(), a.amount_cents, a.criteria, a.note)
                   for a in approvals],
        recusals=[(names.get(r.actor_id, r.actor_label), f"recused: {(r.after or {}).get('reason', '')}")
                  for r in recusals],
        relationships=[(names.get(r.trustee_id, ""), f"declared: {r.relation}") for r in relationships],
        documents=[(d.original_name, d.content_type, d.size_bytes, d.sha256) for d in application.documents],
        payments=[(p.paid_on.isoformat(), p.amount_cents, p.method, p.reference, p.payee_name,
                   f"void: {p.void_reason}" if p.voided_at else "") for p in payments]))


def award_letter(fund: Fund, application: Application) -> bytes:
    applicant = db.session.get(User, application.applicant_id)
    approved = db.session.scalars(db.select(AuditRecord).filter_by(object_type="application",
                                                                   object_id=str(application.id))
                                  .where(AuditRecord.action.in_(["application.approved",
                                                                 "application.partially_approved"]))).first()
    language = applicant.language if applicant.language in ("en", "es") else "en"
    with force_locale(language):
        purpose = category_name(application.category).lower()
    # Once paid, the letter names who the payments went to (as recorded on them), not who was asked for.
    paid_to = list(dict.fromkeys(db.session.scalars(
        db.select(GrantPayment.payee_name).filter_by(application_id=application.id, voided_at=None)
        .order_by(GrantPayment.id))))
    return render_award_letter(AwardLetterData(
        fund_name=fund.name, legal_name=fund.legal_name, case_id=application.id, member_name=applicant.name,
        purpose=purpose, amount_approved_cents=application.amount_approved_cents,
        amount_requested_cents=application.amount_requested_cents,
        payee=", ".join(paid_to) if paid_to and application.amount_paid_cents else _payee(application, applicant),
        amount_paid_cents=application.amount_paid_cents, postal_address=fund.postal_address,
        signatory_name=fund.signatory_name, signatory_title=fund.signatory_title, page_words=page_words(language),
        words=award_words(language), note=application.decision_reason, currency=fund.currency, language=language,
        decided_on=clock.local_date(fund, approved.created_at if approved else application.updated_at),
        time_zone=clock.zone(fund)))
