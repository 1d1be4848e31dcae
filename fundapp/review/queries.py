"""Reads for the trustees' pages: plain data for the queue and the case page, a few queries each whatever
the page's size. Nothing here writes."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fundapp.accounts.models import Member, User
from fundapp.applications.flags import FlagIndex, flags_for, submitted_applications
from fundapp.applications.models import Application
from fundapp.applications.services import cap_position, granted_cents
from fundapp.applications.states import PENDING, Status
from fundapp.audit.models import AuditRecord
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.review.models import Approval, CaseNote, CaseReviewer, GrantPayment, Relationship
from fundapp.review.recusal import recusal, related_member_ids


def approvals_needed(rules, amount_cents: int) -> int:
    """How many different trustees must approve ``amount_cents`` under these rules."""
    return rules.approvals_needed if amount_cents > rules.dual_approval_above_cents else 1


def approvals_by_case(application_ids: list[int]) -> dict[int, list[Approval]]:
    """The approvals given so far on these cases, oldest first (one query for a whole queue page)."""
    found: dict[int, list[Approval]] = {}
    if application_ids:
        for approval in db.session.scalars(db.select(Approval).where(Approval.application_id.in_(application_ids))
                                           .order_by(Approval.id)):
            found.setdefault(approval.application_id, []).append(approval)
    return found


def reviewer_ids(application: Application) -> set[int]:
    return set(db.session.scalars(db.select(CaseReviewer.trustee_id).filter_by(application_id=application.id)))


def names_of(user_ids: set) -> dict[int, str]:
    """The names of just these people (a page never loads every user of every fund)."""
    ids = {i for i in user_ids if i is not None}
    return dict(db.session.execute(db.select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}


@dataclass(frozen=True)
class QueueFilters:
    status: str = ""
    category: str = ""
    search: str = ""
    worksite: str = ""
    min_cents: int | None = None
    max_cents: int | None = None
    flagged: bool = False
    mine: bool = False  #: only the cases waiting for this trustee's approval


@dataclass
class QueueRow:
    application: Application
    member: Member
    flags: int
    waiting_days: int
    granted: int  #: granted to the member before this case
    needed: int  #: approvals this amount needs
    approved_by: list[str]
    mine_to_confirm: bool
    position: object  #: applications.services.cap_position's answer


def queue(fund: Fund, filters: QueueFilters, viewer: User, now: datetime) -> list[QueueRow]:
    """The review queue (at most 200 cases, oldest first): each case's flags, its approvals so far and who
    gave them, and whether it waits for ``viewer``'s approval."""
    query = (db.select(Application, Member).join(Member, Member.id == Application.member_id)
             .where(Application.fund_id == fund.id))
    query = query.where(Application.status == filters.status) if filters.status in set(Status) else \
        query.where(Application.status.in_(list(PENDING)))
    if filters.category:
        query = query.where(Application.category == filters.category)
    if filters.worksite:
        query = query.where(db.func.lower(Member.worksite) == filters.worksite.lower())
    if filters.min_cents is not None:
        query = query.where(Application.amount_requested_cents >= filters.min_cents)
    if filters.max_cents is not None:
        query = query.where(Application.amount_requested_cents <= filters.max_cents)
    if filters.search:
        like = f"%{filters.search.lower()}%"
        query = query.where(db.or_(db.func.lower(Member.first_name + " " + Member.last_name).like(like),
                                   db.func.lower(Member.member_id).like(like)))
    rows = db.session.execute(query.order_by(Application.submitted_at, Application.id).limit(200)).all()
    candidates = submitted_applications(fund.id)  # one query for the whole page's flags
    index = FlagIndex(candidates)
    by_member: dict[int, list[Application]] = {}
    for candidate in candidates:
        by_member.setdefault(candidate.member_id, []).append(candidate)
    approvals = approvals_by_case([a.id for a, _m in rows])
    related = related_member_ids(viewer)
    names = names_of({ap.trustee_id for given in approvals.values() for ap in given})
    cases = []
    for a, m in rows:
        earlier = [other for other in by_member.get(m.id, []) if other.id != a.id]
        given = approvals.get(a.id, [])
        needed = approvals_needed(a.rules, given[0].amount_cents if given else a.amount_requested_cents)
        mine = bool(given) and a.status in PENDING and len(given) < needed \
            and all(ap.trustee_id != viewer.id for ap in given) and a.applicant_id != viewer.id and m.id not in related
        cases.append(QueueRow(
            application=a, member=m, flags=len(flags_for(a, index)),
            waiting_days=(now - a.submitted_at).days if a.submitted_at else 0, granted=granted_cents(earlier),
            needed=needed, approved_by=[names.get(ap.trustee_id, "") for ap in given], mine_to_confirm=mine,
            position=cap_position(m, a.rules, a.category, excluding=a, applications=earlier)))
    if filters.flagged:
        cases = [c for c in cases if c.flags]
    if filters.mine:
        cases = [c for c in cases if c.mine_to_confirm]
    return cases


@dataclass
class CasePage:
    member: Member
    applicant: User
    history: list[Application]  #: the member's other applications, drafts left out
    trail: list[AuditRecord]
    reviewers: set[int]
    approvals: list[Approval]
    my_approval: Approval | None
    needed: int
    recused: tuple[str, str] | None  #: why the viewer may not decide (recusal.recusal), or None
    payments: list[GrantPayment]
    notes: list[CaseNote]
    names: dict[int, str] = field(default_factory=dict)


def case_page(application: Application, viewer: User) -> CasePage:
    """Everything the case page shows, with the names of just the people it mentions."""
    member = db.session.get(Member, application.member_id)
    history = db.session.scalars(db.select(Application).where(
        Application.member_id == member.id, Application.id != application.id,
        Application.status != Status.DRAFT).order_by(Application.id)).all()
    trail = db.session.scalars(db.select(AuditRecord).where(
        AuditRecord.object_type == "application", AuditRecord.object_id == str(application.id))
        .order_by(AuditRecord.id)).all()
    reviewers = reviewer_ids(application)
    approvals = db.session.scalars(db.select(Approval).filter_by(application_id=application.id)
                                   .order_by(Approval.id)).all()
    notes = db.session.scalars(db.select(CaseNote).filter_by(application_id=application.id)
                               .order_by(CaseNote.id)).all()
    names = names_of({application.applicant_id, *reviewers, *(ap.trustee_id for ap in approvals),
                      *(m.author_id for m in application.messages), *(r.actor_id for r in trail),
                      *(n.author_id for n in notes)})
    return CasePage(
        member=member, applicant=db.session.get(User, application.applicant_id), history=list(history),
        trail=list(trail), reviewers=reviewers, approvals=list(approvals),
        my_approval=next((ap for ap in approvals if ap.trustee_id == viewer.id), None),
        needed=approvals_needed(application.rules, approvals[0].amount_cents if approvals
                                else application.amount_requested_cents),
        recused=recusal(application, viewer),
        payments=list(db.session.scalars(db.select(GrantPayment).filter_by(application_id=application.id)
                                         .order_by(GrantPayment.id))),
        notes=list(notes), names=names)


def declared_relationships(trustee: User) -> list[tuple[Relationship, Member]]:
    """The relationships a trustee declared, with the members they concern."""
    return [tuple(row) for row in db.session.execute(
        db.select(Relationship, Member).join(Member, Member.id == Relationship.member_id)
        .where(Relationship.trustee_id == trustee.id).order_by(Relationship.id)).all()]
